import Foundation
import NIOCore
import PortcullisModel
import PortcullisTestKubernetes
import Testing

@testable import PortcullisControlPlane

/// The API client's pieces: JSON values, watch lines, backoff, paths, in-cluster configuration, list and watch.
@Suite(.timeLimit(.minutes(1)))
struct KubernetesClientTests {
    @Test func jsonRoundTripsWithSortedKeys() throws {
        let text = #"{"b":[1,2.5,true,null,"x\"\n\u0001"],"a":{"n":-7,"big":9007199254740993}}"#
        let value = try KubernetesJSON.parse(text)
        #expect(value["a"]?["n"] == .integer(-7))
        #expect(value["a"]?["big"] == .integer(9_007_199_254_740_993))
        #expect(value["b"]?.arrayValue?[1] == .double(2.5))
        #expect(value["b"]?.arrayValue?[2] == .bool(true))
        #expect(value["b"]?.arrayValue?[3] == .null)
        let serialized = value.serialized
        #expect(serialized == #"{"a":{"big":9007199254740993,"n":-7},"b":[1,2.5,true,null,"x\"\n\u0001"]}"#)
        #expect(try KubernetesJSON.parse(serialized) == value)
    }

    @Test func jsonMetadataAccessors() {
        let object = json(#"{"metadata":{"name":"n","namespace":"ns","resourceVersion":"42"}}"#)
        #expect(object.storeKey == "ns/n")
        #expect(object.resourceVersion == "42")
        #expect(json(#"{"metadata":{"name":"cluster-wide"}}"#).storeKey == "cluster-wide")
    }

    @Test func watchEventsDecode() throws {
        let added = try KubernetesWatchEvent(json: json(#"{"type":"ADDED","object":{"metadata":{"name":"a"}}}"#))
        #expect(added == .added(json(#"{"metadata":{"name":"a"}}"#)))
        let bookmark = try KubernetesWatchEvent(
            json: json(#"{"type":"BOOKMARK","object":{"kind":"Gateway","metadata":{"resourceVersion":"12"}}}"#))
        #expect(bookmark == .bookmark(resourceVersion: "12"))
        let gone = try KubernetesWatchEvent(
            json: json(
                #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#
                    + #""message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#))
        let status = KubernetesStatus(code: 410, reason: "Expired", message: "too old resource version: 1 (5)")
        #expect(gone == .error(status))
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesWatchEvent(json: json(#"{"type":"SOMETHING","object":{}}"#))
        }
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesWatchEvent(json: json(#"{"type":"BOOKMARK","object":{"metadata":{}}}"#))
        }
    }

    @Test func lineSplitterKeepsPartialLines() throws {
        var splitter = LineSplitter(limit: 64)
        #expect(try splitter.append(ByteBuffer(string: "{\"a\":1}\n{\"b\"")) == [Array("{\"a\":1}".utf8)])
        #expect(try splitter.append(ByteBuffer(string: ":2}\r\n\n")) == [Array("{\"b\":2}".utf8), []])
        #expect(throws: KubernetesAPIError.self) {
            try splitter.append(ByteBuffer(string: String(repeating: "x", count: 65)))
        }
    }

    @Test func backoffDoublesToTheCapWithJitter() {
        let backoff = KubernetesBackoff()
        #expect(backoff.delay(attempt: 1, random: 0) == .milliseconds(500))
        #expect(backoff.delay(attempt: 2, random: 0) == .seconds(1))
        #expect(backoff.delay(attempt: 3, random: 0) == .seconds(2))
        #expect(backoff.delay(attempt: 2, random: 0.5) == .milliseconds(1250))
        #expect(backoff.delay(attempt: 7, random: 0) == .seconds(30))
        #expect(backoff.delay(attempt: 1000, random: 0.99) == .seconds(30))
        for attempt in 1...20 {
            let delay = backoff.delay(attempt: attempt)
            #expect(delay >= .milliseconds(500) && delay <= .seconds(30))
        }
    }

    @Test func resourcePaths() {
        #expect(
            KubernetesResource(group: "networking.istio.io", version: "v1", plural: "virtualservices").path
                == "/apis/networking.istio.io/v1/virtualservices")
        #expect(
            KubernetesResource(group: "", version: "v1", plural: "secrets", namespace: "istio-system").path
                == "/api/v1/namespaces/istio-system/secrets")
        #expect(KubernetesAPIClient.target("/a?labelSelector=x", ["watch=1"]) == "/a?labelSelector=x&watch=1")
        #expect(KubernetesAPIClient.queryEscape("a b/c=d&e") == "a%20b%2Fc%3Dd%26e")
    }

    @Test func inClusterConfigNeedsTheEnvironmentAndCA() throws {
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesClusterConfig.inCluster(environment: [:], serviceAccountDirectory: "/nonexistent")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-sa-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesClusterConfig.inCluster(environment: environment, serviceAccountDirectory: directory.path)
        }
        try "-----BEGIN CERTIFICATE-----\n".write(
            to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "edge\n".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let config = try KubernetesClusterConfig.inCluster(
            environment: environment, serviceAccountDirectory: directory.path)
        #expect(config.host == "10.96.0.1")
        #expect(config.port == 443)
        #expect(config.tokenFile == directory.path + "/token")
        #expect(config.tls?.trustRoots == .file(directory.path + "/ca.crt"))
        #expect(KubernetesClusterConfig.podNamespace(serviceAccountDirectory: directory.path) == "edge")
    }

    @Test func listAndWatchOverTheWire() async throws {
        let server = try await FakeKubernetesAPIServer.start()
        let version = server.put("gateways", namespace: "edge", name: "gw", spec: gatewaySpec)
        server.put("secrets", namespace: "edge", name: "cert", spec: .null, extra: ["type": .string("Opaque")])
        let client = try KubernetesAPIClient(config: server.clientConfig())

        let list = try await client.list(path: "/apis/networking.istio.io/v1/gateways")
        #expect(list.items.map(\.name) == ["gw"])
        #expect(list.resourceVersion == server.resourceVersion)
        #expect(list.items.first?.resourceVersion == version)
        // Built-in types come without kind/apiVersion in list items; the client fills them in.
        let secrets = try await client.list(path: "/api/v1/namespaces/edge/secrets")
        #expect(secrets.items.first?["kind"] == .string("Secret"))
        #expect(secrets.items.first?["apiVersion"] == .string("v1"))

        let events = client.watch(
            path: "/apis/networking.istio.io/v1/gateways", resourceVersion: list.resourceVersion, timeoutSeconds: 5)
        let collected = Recorder<KubernetesWatchEvent>()
        let reader = Task { for try await event in events { collected.append(event) } }
        #expect(await eventually { server.openWatches == 1 })
        let modified = server.put("gateways", namespace: "edge", name: "gw", spec: json(#"{"servers":[]}"#))
        let bookmark = server.bookmark("gateways")
        try await reader.value  // the server's timeoutSeconds ends the stream cleanly
        #expect(collected.values.count == 2)
        if case .modified(let object) = collected.values.first {
            #expect(object.resourceVersion == modified)
        } else {
            Issue.record("expected MODIFIED, got \(collected.values)")
        }
        #expect(collected.values.last == .bookmark(resourceVersion: bookmark))

        server.failNext(1, .list, code: 403)
        await #expect(throws: KubernetesAPIError.self) { try await client.list(path: "/api/v1/secrets") }
        do {
            _ = try await client.list(path: "/nothing-here")
            Issue.record("expected a 404")
        } catch let error as KubernetesAPIError {
            #expect(error.status?.code == 404)
            #expect(error.status?.reason == "NotFound")
        }
        await server.stop()
    }
}
