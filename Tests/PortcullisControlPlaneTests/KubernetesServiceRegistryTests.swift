import Foundation
import PortcullisModel
import PortcullisTestKubernetes
import Testing

@testable import PortcullisControlPlane

/// Reflector stores into the service registry (CONTROL-PLANE §4.5). The schemas and endpoint rules are tested in
/// PortcullisModelTests; here, whole stores with objects that do not decode.
@Suite(.timeLimit(.minutes(1)))
struct KubernetesServiceRegistryTests {
    @Test func servicesAreSortedAndOnesThatDoNotDecodeAreSkippedAndReported() {
        let stores: [String: KubernetesJSON] = [
            "b/web": KubernetesService.trimmed(
                json(#"{"metadata":{"name":"web","namespace":"b"},"spec":{"ports":[{"name":"http","port":80}]}}"#)),
            "a/api": KubernetesService.trimmed(
                json(#"{"metadata":{"name":"api","namespace":"a"},"spec":{"ports":[{"port":8080}]}}"#)),
            "a/bad": KubernetesService.trimmed(
                json(#"{"metadata":{"name":"bad","namespace":"a"},"spec":{"ports":[{"port":"80"}]}}"#)),
            "a/ext": json(#"{"metadata":{"name":"ext","namespace":"a"},"spec":{"type":"ExternalName"}}"#),
        ]
        var problems: [ConfigDiagnostic] = []
        let services = KubernetesServiceRegistry.services(stores, sourceName: "kubernetes://test", problems: &problems)
        #expect(services.map(\.key) == ["a/api", "b/web"])
        #expect(problems.map(\.description) == [
            "kubernetes://test:0: Service a/bad: spec.ports[0].port: warning: expected an integer, found a string; "
                + "Service skipped"
        ])
    }

    @Test func slicesAndPodsThatDoNotDecodeAreSkippedAndReported() {
        let slices: [String: KubernetesJSON] = [
            "n/web-1": KubernetesEndpointSlice.trimmed(
                json(
                    #"{"metadata":{"name":"web-1","namespace":"n","labels":{"kubernetes.io/service-name":"web"}},"#
                        + #""addressType":"IPv4","ports":[{"name":"http","port":80}],"#
                        + #""endpoints":[{"addresses":["10.0.0.1"],"targetRef":{"kind":"Pod","name":"p1"}}]}"#)),
            "n/web-2": KubernetesEndpointSlice.trimmed(
                json(
                    #"{"metadata":{"name":"web-2","namespace":"n","labels":{"kubernetes.io/service-name":"web"}},"#
                        + #""addressType":"IPv4","ports":[{"name":"http","port":80}],"#
                        + #""endpoints":[{"addresses":"10.0.0.2"}]}"#)),
        ]
        let pods: [String: KubernetesJSON] = [
            "n/p1": KubernetesPod.trimmed(json(#"{"metadata":{"name":"p1","namespace":"n","labels":{"v":1}}}"#))
        ]
        var problems: [ConfigDiagnostic] = []
        let endpoints = KubernetesServiceRegistry.endpoints(
            slices: slices, pods: pods, sourceName: "kubernetes://test", problems: &problems)
        #expect(endpoints[service: "n/web"] == [WorkloadEntry(address: "10.0.0.1", ports: ["http": 80])])
        #expect(problems.map { "\($0.kind) \($0.namespace)/\($0.name) \($0.fieldPath)" } == [
            "EndpointSlice n/web-2 endpoints[0].addresses", "Pod n/p1 metadata.labels.v",
        ])
    }
}

/// The config source with the service registry, against the fake API server.
@Suite(.timeLimit(.minutes(1)))
struct KubernetesRegistrySourceTests {
    func slice(_ addresses: [String]) -> [String: KubernetesJSON] {
        let endpoints = addresses.map { address in
            json(#"{"addresses":["\#(address)"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"pod-\#(address)","namespace":"default"}}"#)
        }
        return [
            "addressType": .string("IPv4"), "ports": json(#"[{"name":"http","port":8080,"protocol":"TCP"}]"#),
            "endpoints": .array(endpoints),
        ]
    }

    @Test func endpointSlicesFallBackToV1beta1AndChangesYieldOnlyNewEndpoints() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.unserved = ["/apis/discovery.k8s.io/v1/"]
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        server.put(
            "services", namespace: "default", name: "backend",
            spec: json(#"{"ports":[{"name":"http","port":8080,"targetPort":8080}]}"#))
        server.put(
            "endpointslices", namespace: "default", name: "backend-1", spec: .null, extra: self.slice(["10.0.0.1"]),
            labels: ["kubernetes.io/service-name": "backend"])
        server.put(
            "pods", namespace: "default", name: "pod-10.0.0.1", spec: json("{}"), labels: ["version": "v1"])
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(
            client: client, serviceRegistry: true, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<KubernetesConfigSnapshot>()
        let task = Task { for await snapshot in source.snapshots() { results.append(snapshot) } }

        #expect(await eventually { results.count == 1 })
        let first = try #require(results.last)
        #expect(first.loaded.config.services.map(\.key) == ["default/backend"])
        #expect(first.endpoints[service: "default/backend"].map(\.address) == ["10.0.0.1"])
        #expect(first.endpoints[service: "default/backend"].first?.labels == ["version": "v1"])
        #expect(server.lists.contains { $0.path == "/apis/discovery.k8s.io/v1beta1/endpointslices" })
        #expect(source.statuses["/apis/discovery.k8s.io/v1/endpointslices"]?.path
            == "/apis/discovery.k8s.io/v1beta1/endpointslices")

        // Scale up: a new snapshot whose config is unchanged and whose endpoints have the new pod.
        #expect(await eventually { server.openWatches == 8 })
        server.put(
            "endpointslices", namespace: "default", name: "backend-1", spec: .null,
            extra: self.slice(["10.0.0.1", "10.0.0.2"]), labels: ["kubernetes.io/service-name": "backend"])
        #expect(await eventually { results.count == 2 })
        let second = try #require(results.last)
        #expect(second.loaded.config == first.loaded.config)
        #expect(second.endpoints[service: "default/backend"].map(\.address) == ["10.0.0.1", "10.0.0.2"])

        // A pod status change (trimmed away) yields nothing; a label change does.
        server.put(
            "pods", namespace: "default", name: "pod-10.0.0.1", spec: json(#"{"nodeName":"n1"}"#),
            labels: ["version": "v1"])
        server.put(
            "pods", namespace: "default", name: "pod-10.0.0.2", spec: json("{}"), labels: ["version": "v2"])
        #expect(await eventually { results.count == 3 })
        #expect(results.last?.endpoints[service: "default/backend"].last?.labels == ["version": "v2"])
        #expect(source.health.synced && source.health.connected)

        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func watchNamespaceScopesTheRegistryAndSecretsStayInTheGatewayNamespace() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(
            client: client, watchNamespace: "shop", secretsNamespace: "edge", serviceRegistry: true,
            backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let task = Task { for await _ in source.snapshots() {} }
        #expect(await eventually { source.health.synced })
        #expect(Set(server.lists.map(\.path)) == [
            "/apis/networking.istio.io/v1/namespaces/shop/gateways",
            "/apis/networking.istio.io/v1/namespaces/shop/virtualservices",
            "/apis/networking.istio.io/v1/namespaces/shop/destinationrules",
            "/apis/networking.istio.io/v1/namespaces/shop/serviceentries",
            "/apis/security.istio.io/v1/namespaces/shop/authorizationpolicies",
            "/api/v1/namespaces/edge/secrets", "/api/v1/namespaces/shop/services",
            "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", "/api/v1/namespaces/shop/pods",
        ])
        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func istioKindsFallBackToV1beta1OnOlderInstalls() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        server.unserved = ["/apis/networking.istio.io/v1/"]
        server.put("gateways", namespace: "istio-system", name: "gw", spec: gatewaySpec)
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(client: client, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        let results = Recorder<ConfigLoadResult>()
        let task = Task { for await result in source.updates() { results.append(result) } }
        #expect(await eventually { results.count == 1 })
        #expect(results.last?.config.gateways.map(\.meta.name) == ["gw"])
        #expect(server.lists.contains { $0.path == "/apis/networking.istio.io/v1beta1/gateways" })
        #expect(source.health.connected)
        task.cancel()
        await task.value
        await server.stop()
    }

    @Test func healthReportsTheFailureRunAndItsEnd() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let client = try KubernetesAPIClient(config: server.clientConfig())
        let source = KubernetesConfigSource(client: client, backoff: testBackoff, minimumWatchTimeoutSeconds: 60)
        #expect(!source.health.synced)
        #expect(source.health.waitingFor.count == 5)
        let task = Task { for await _ in source.snapshots() {} }
        #expect(await eventually { source.health.synced && server.openWatches == 5 })
        #expect(source.health.connected)

        server.failNext(3, .watch, code: 403)
        server.endOpenWatches()
        #expect(await eventually { source.statuses.values.contains { $0.lastError?.contains("403") == true } })
        let failing = source.health
        #expect(failing.synced)
        #expect(failing.totalFailures >= 1)
        let recovered = await eventually(.seconds(20)) { source.health.connected && server.openWatches == 5 }
        #expect(recovered, "\(source.health)")
        #expect(source.health.lastError == nil)
        task.cancel()
        await task.value
        await server.stop()
    }
}
