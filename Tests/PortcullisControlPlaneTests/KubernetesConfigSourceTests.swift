import Foundation
import PortcullisModel
import PortcullisTestKubernetes
import Testing

@testable import PortcullisControlPlane

/// The config source: reflectors combined into loader results.
@Suite(.timeLimit(.minutes(1)))
struct KubernetesConfigSourceTests {
    @Test func yieldsLoadResultsWithTheObjects() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        server.put("virtualservices", namespace: "istio-system", name: "vs", spec: virtualServiceSpec())
        server.put(
            "destinationrules", namespace: "default", name: "backend",
            spec: json(#"{"host":"backend.default.svc.cluster.local"}"#))
        server.put(
            "secrets", namespace: "istio-system", name: "gw-cert", spec: .null,
            extra: ["type": .string("Opaque"), "data": json(#"{"key":"c2VjcmV0"}"#)])
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(
            client: client, secretsNamespace: "istio-system", backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }

        #expect(await eventually { results.count == 1 })
        let first = try #require(results.values.first)
        #expect(first.errors.isEmpty, "\(first.diagnostics)")
        #expect(first.config.gateways.map(\.meta.name) == ["gw"])
        #expect(first.config.gateways.first?.meta.namespace == "istio-system")
        #expect(first.config.virtualServices.map(\.meta.name) == ["vs"])
        #expect(first.config.destinationRules.map(\.meta.name) == ["backend"])
        #expect(first.config.secrets.map(\.meta.name) == ["gw-cert"])
        #expect(first.config.secrets.first?.data["key"] == Array("secret".utf8))
        #expect(source.synced)
        #expect(Set(server.lists.map(\.path)) == [
            "/apis/networking.istio.io/v1/gateways", "/apis/networking.istio.io/v1/virtualservices",
            "/apis/networking.istio.io/v1/destinationrules", "/apis/networking.istio.io/v1/serviceentries",
            "/apis/security.istio.io/v1/authorizationpolicies", "/api/v1/namespaces/istio-system/secrets",
        ])

        // A change to one collection yields a new result with everything.
        #expect(await eventually { server.openWatches == 6 })
        server.put("virtualservices", namespace: "default", name: "vs2", spec: virtualServiceSpec())
        #expect(await eventually { results.count == 2 })
        #expect(results.last?.config.virtualServices.map(\.meta.name).sorted() == ["vs", "vs2"])
        #expect(results.last?.config.gateways.map(\.meta.name) == ["gw"])

        // An invalid object is reported with its name and left out; the rest still loads.
        server.put("virtualservices", namespace: "default", name: "broken", spec: json(#"{"http":[{}]}"#))
        #expect(await eventually { results.count == 3 })
        let third = try #require(results.last)
        #expect(third.errors.contains { $0.name == "broken" && $0.file == source.sourceName })
        #expect(third.config.virtualServices.map(\.meta.name).sorted() == ["vs", "vs2"])

        // A relist that finds nothing new yields nothing.
        server.sendGoneToOpenWatches()
        #expect(await eventually { server.lists.count == 12 && server.openWatches == 6 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(results.count == 3)

        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func watchNamespaceScopesEveryCollection() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "edge", name: "gw", spec: gatewaySpec)
        server.put("gateways", namespace: "other", name: "not-mine", spec: gatewaySpec)
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(
            client: client, watchNamespace: "edge", backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }
        #expect(await eventually { results.count == 1 })
        #expect(results.last?.config.gateways.map(\.meta.name) == ["gw"])
        #expect(server.lists.allSatisfy { $0.path.contains(".istio.io/v1/namespaces/edge/") })
        #expect(server.lists.count == 5)
        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func nothingIsYieldedBeforeEveryCollectionIsListed() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.put("gateways", namespace: "edge", name: "gw", spec: gatewaySpec)
        // Every list fails for a while: gateways may list, but not all five collections.
        server.failNext(4, .list, code: 500)
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(client: client, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }
        #expect(await eventually { results.count == 1 })
        #expect(server.lists.count == 9)
        #expect(results.last?.config.gateways.map(\.meta.name) == ["gw"])
        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func meshConfigMapIsSelectedByNameAndAuthorizationPoliciesAreCarried() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        func mesh(_ mode: String) -> [String: KubernetesJSON] {
            ["data": .object(["mesh": .string("outboundTrafficPolicy:\n  mode: \(mode)")])]
        }
        server.put("configmaps", namespace: "istio-system", name: "istio", spec: .null, extra: mesh("REGISTRY_ONLY"))
        // Another ConfigMap of the namespace: never read, so never a "not the mesh config" warning.
        server.put("configmaps", namespace: "istio-system", name: "other", spec: .null, extra: mesh("ALLOW_ANY"))
        server.put(
            "authorizationpolicies", namespace: "shop", name: "deny-admin",
            spec: json(#"{"action":"DENY","rules":[{"to":[{"operation":{"paths":["/admin/*"]}}]}]}"#))
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(
            client: client, meshNamespace: "istio-system", backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }

        #expect(await eventually { results.count == 1 })
        let first = try #require(results.last)
        #expect(first.diagnostics.isEmpty, "\(first.diagnostics)")
        #expect(first.config.mesh?.outboundTrafficPolicy == .registryOnly)
        #expect(first.config.authorizationPolicies.map(\.meta.name) == ["deny-admin"])
        #expect(first.config.authorizationPolicies.first?.action == .deny)
        let meshLists = server.lists.filter { $0.path == "/api/v1/namespaces/istio-system/configmaps" }
        #expect(!meshLists.isEmpty && meshLists.allSatisfy { $0.query["fieldSelector"] == "metadata.name=istio" })
        #expect(await eventually { server.openWatches == 6 })
        #expect(server.watches.filter { $0.path.hasSuffix("/configmaps") }
            .allSatisfy { $0.query["fieldSelector"] == "metadata.name=istio" })

        // Edits and deletions follow; a change to another ConfigMap is not seen at all.
        server.put("configmaps", namespace: "istio-system", name: "istio", spec: .null, extra: mesh("ALLOW_ANY"))
        #expect(await eventually { results.last?.config.mesh?.outboundTrafficPolicy == .allowAny })
        let count = results.count
        server.put("configmaps", namespace: "istio-system", name: "other", spec: .null, extra: mesh("REGISTRY_ONLY"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(results.count == count)
        server.delete("configmaps", namespace: "istio-system", name: "istio")
        #expect(await eventually { results.count > count && results.last?.config.mesh == nil })
        server.delete("authorizationpolicies", namespace: "shop", name: "deny-admin")
        #expect(await eventually { results.last?.config.authorizationPolicies.isEmpty == true })

        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func authorizationPoliciesFallBackToV1beta1() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.unserved = ["/apis/security.istio.io/v1/"]
        server.put("authorizationpolicies", namespace: "edge", name: "allow-all", spec: json(#"{"rules":[{}]}"#))
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(client: client, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }
        #expect(await eventually { results.count == 1 })
        #expect(results.last?.config.authorizationPolicies.map(\.meta.name) == ["allow-all"])
        #expect(server.lists.contains { $0.path == "/apis/security.istio.io/v1beta1/authorizationpolicies" })
        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func renderIsDeterministicJSONDocuments() throws {
        let a = json(#"{"kind":"Gateway","metadata":{"name":"a","namespace":"x"},"spec":{}}"#)
        let b = json(#"{"kind":"Gateway","metadata":{"namespace":"x","name":"b"},"spec":{}}"#)
        let text = KubernetesConfigSource.render([
            KubernetesStoreSnapshot(objects: ["x/b": b, "x/a": a], resourceVersion: "3")
        ])
        #expect(
            text == #"{"kind":"Gateway","metadata":{"name":"a","namespace":"x"},"spec":{}}"# + "\n---\n"
                + #"{"kind":"Gateway","metadata":{"name":"b","namespace":"x"},"spec":{}}"# + "\n")
    }
}
