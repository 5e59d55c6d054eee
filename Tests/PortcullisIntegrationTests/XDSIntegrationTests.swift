import Foundation
import Testing

/// `portcullis run --xds-address`: the real binary subscribed to the Python test control plane
/// (`Tests/Fixtures/xds_control_plane.py`), which encodes Istio objects with Python protobuf from our `.proto`
/// files and records every DiscoveryRequest. Covers routing from pushed config, updates and deletions, the node
/// identity, ACK versions and nonces, NACKs with the validation message while the old config keeps serving,
/// undecodable resources, reconnects, TLS with a bearer token, and the mesh config's outbound policy.
@Suite(.serialized)
struct XDSIntegrationTests {
    static let available = XDSControlPlane.available
    typealias CP = XDSControlPlane

    struct Setup {
        let plane: XDSControlPlane
        let gateway: GatewayProcess
        let port: Int
        let backendA: TestBackend
        let backendB: TestBackend
    }

    /// A control plane holding a Gateway, two ServiceEntries and a VirtualService to `a.internal`, and a gateway
    /// subscribed to it (ready once the first sync was accepted).
    private func start(
        planeArguments: [String] = [], extraSource: [String] = [], address: String? = nil
    ) async throws -> Setup {
        let plane = try await XDSControlPlane(arguments: planeArguments)
        let backendA = try await TestBackend.start(name: "backend-a")
        let backendB = try await TestBackend.start(name: "backend-b")
        let port = try FreePort.allocate()
        try plane.put(CP.gatewayType, [CP.gateway(port: port)])
        try plane.put(CP.serviceEntryType, [
            CP.serviceEntry("a", host: "a.internal", backendPort: backendA.port),
            CP.serviceEntry("b", host: "b.internal", backendPort: backendB.port),
        ])
        try plane.put(CP.virtualServiceType, [CP.virtualService("shop", hosts: ["shop.example.com"], to: "a.internal")])
        let gateway = try GatewayProcess(
            source: ["--xds-address", address ?? "127.0.0.1:\(plane.xdsPort)"] + extraSource,
            extraArguments: ["--labels", "istio=ingressgateway", "--xds-backoff-max-milliseconds", "200"],
            environment: ["POD_NAME": "gw-1", "POD_NAMESPACE": "istio-system", "INSTANCE_IP": "10.1.2.3"])
        return Setup(plane: plane, gateway: gateway, port: port, backendA: backendA, backendB: backendB)
    }

    static func hit(_ port: Int, host: String = "shop.example.com", path: String = "/") throws -> String {
        try KubernetesIntegrationTests.hit(port, host: host, path: path)
    }

    static func until(_ expected: String, _ probe: () async throws -> String) async throws -> String {
        try await KubernetesIntegrationTests.until(expected, timeout: .seconds(30), probe)
    }

    @Test(.enabled(if: available)) func pushedConfigRoutesAndEveryKindIsAcked() async throws {
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        #expect(try Self.hit(setup.port) == "backend-a")

        let requests = try setup.plane.requests()
        let subscribed = Set(requests.filter { $0["kind"] as? String == "subscribe" }.compactMap { $0["type_url"] as? String })
        #expect(subscribed == [
            "networking.istio.io/v1/Gateway", "networking.istio.io/v1/VirtualService",
            "networking.istio.io/v1/DestinationRule", "networking.istio.io/v1/ServiceEntry",
            "security.istio.io/v1/AuthorizationPolicy", "core/v1alpha1/MeshConfig",
        ])
        // The node rides on the stream's first request, with the metadata istiod's api generator needs.
        let node = try #require(requests.first?["node"] as? [String: Any])
        #expect(node["id"] as? String == "router~10.1.2.3~gw-1.istio-system~istio-system.svc.cluster.local")
        let metadata = try #require(node["metadata"] as? [String: Any])
        #expect(metadata["GENERATOR"] as? String == "api")
        #expect(metadata["NAMESPACE"] as? String == "istio-system")
        #expect(metadata["CLUSTER_ID"] as? String == "Kubernetes")
        #expect((metadata["LABELS"] as? [String: Any])?["istio"] as? String == "ingressgateway")
        #expect(requests.dropFirst().allSatisfy { $0["node"] is NSNull || $0["node"] == nil })
        // Every kind's first response is ACKed with its version and nonce.
        let state = try setup.plane.state()
        let versions = state["versions"] as? [String: String] ?? [:]
        let nonces = try #require(state["last_nonce"] as? [String: String])
        for type in subscribed {
            let ack = try await setup.plane.waitForRequest { $0["kind"] as? String == "ack" && $0["type_url"] as? String == type }
            #expect(ack["version_info"] as? String == (versions[type] ?? "0"), "\(type)")
            #expect(ack["response_nonce"] as? String == nonces[type], "\(type)")
        }
    }

    @Test(.enabled(if: available)) func updatesAndDeletionsFollowTheControlPlane() async throws {
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        #expect(try Self.hit(setup.port) == "backend-a")

        let version = try setup.plane.put(CP.virtualServiceType, [
            CP.virtualService("shop", hosts: ["shop.example.com"], to: "b.internal"),
            CP.virtualService("docs", hosts: ["docs.example.com"], to: "a.internal"),
        ])
        #expect(try await Self.until("backend-b") { try Self.hit(setup.port) } == "backend-b")
        #expect(try Self.hit(setup.port, host: "docs.example.com") == "backend-a")
        _ = try await setup.plane.waitForRequest {
            $0["kind"] as? String == "ack" && $0["type_url"] as? String == CP.virtualServiceType
                && $0["version_info"] as? String == version
        }

        // State of the world: what a push leaves out is deleted.
        try setup.plane.put(CP.virtualServiceType, [CP.virtualService("docs", hosts: ["docs.example.com"], to: "a.internal")])
        #expect(try await Self.until("status 404") { try Self.hit(setup.port) } == "status 404")
        #expect(try Self.hit(setup.port, host: "docs.example.com") == "backend-a")
    }

    @Test(.enabled(if: available)) func invalidConfigIsNackedWithTheReasonAndTheOldConfigKeepsServing() async throws {
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        let good = try #require((try setup.plane.state()["versions"] as? [String: String])?[CP.virtualServiceType])
        _ = try await setup.plane.waitForRequest {
            $0["kind"] as? String == "ack" && $0["type_url"] as? String == CP.virtualServiceType
        }

        var bad = CP.virtualService("shop", hosts: ["shop.example.com"], to: "b.internal")
        bad["spec"] = [
            "hosts": ["shop.example.com"], "gateways": ["istio-system/gw"],
            "http": [["match": [["uri": ["regex": "(unclosed"]]], "route": [["destination": ["host": "b.internal"]]]]],
        ]
        let rejected = try setup.plane.put(CP.virtualServiceType, [bad])
        let nack = try await setup.plane.waitForRequest { $0["kind"] as? String == "nack" }
        #expect(nack["type_url"] as? String == CP.virtualServiceType)
        #expect(nack["version_info"] as? String == good, "a NACK carries the last accepted version")
        #expect(nack["version_info"] as? String != rejected)
        let detail = try #require(nack["error_detail"] as? [String: Any])
        let message = detail["message"] as? String ?? ""
        #expect(message.contains("VirtualService") && message.contains("shop") && message.contains("regex"), "\(message)")
        #expect(detail["code"] as? Int == 3)
        // The previous config keeps serving.
        #expect(try Self.hit(setup.port) == "backend-a")
        #expect(try await HTTP.get(port: setup.gateway.adminPort, path: "/ready").0 == 200)

        // A fixed push is accepted again.
        try setup.plane.put(CP.virtualServiceType, [CP.virtualService("shop", hosts: ["shop.example.com"], to: "b.internal")])
        #expect(try await Self.until("backend-b") { try Self.hit(setup.port) } == "backend-b")
    }

    @Test(.enabled(if: available)) func undecodableResourcesAreNacked() async throws {
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        try setup.plane.pushGarbage(CP.destinationRuleType)
        let nack = try await setup.plane.waitForRequest { $0["kind"] as? String == "nack" }
        #expect(nack["type_url"] as? String == CP.destinationRuleType)
        let message = (nack["error_detail"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains(CP.destinationRuleType), "\(message)")
        #expect(try Self.hit(setup.port) == "backend-a")
    }

    @Test(.enabled(if: available)) func aLostStreamReconnectsResubscribesAndKeepsServing() async throws {
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        try setup.plane.disconnect()
        // The gateway resubscribes on a new stream (with its accepted versions as hints) and keeps serving.
        let accepted = try #require((try setup.plane.state()["versions"] as? [String: String])?[CP.virtualServiceType])
        let resubscribe = try await setup.plane.waitForRequest {
            ($0["stream"] as? Int ?? 0) >= 2 && $0["kind"] as? String == "subscribe"
                && $0["type_url"] as? String == CP.virtualServiceType
        }
        // The new stream names the version already accepted, as Envoy does, and sends the node again.
        #expect(resubscribe["version_info"] as? String == accepted)
        let stream = try setup.plane.requests().filter { $0["stream"] as? Int == resubscribe["stream"] as? Int }
        #expect(stream.first?["node"] as? [String: Any] != nil)
        #expect(try Self.hit(setup.port) == "backend-a")
        try setup.plane.put(CP.virtualServiceType, [CP.virtualService("shop", hosts: ["shop.example.com"], to: "b.internal")])
        #expect(try await Self.until("backend-b") { try Self.hit(setup.port) } == "backend-b")

        // Control plane gone: the last config serves, /ready says so, the metric shows it.
        setup.plane.stop()
        let body = try await Self.until("disconnected") {
            let text = (try? await HTTP.get(port: setup.gateway.adminPort, path: "/ready"))?.1 ?? ""
            return text.contains("disconnected from xds://") ? "disconnected" : text
        }
        #expect(body == "disconnected")
        #expect(try Self.hit(setup.port) == "backend-b")
        #expect(try await KubernetesIntegrationTests.metric(setup.gateway, "portcullis_control_plane_connected") == 0)
    }

    @Test(.enabled(if: available)) func tlsWithABearerToken() async throws {
        let certs = try TestCertificates.shared()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xds-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("istio-token").path
        try "secret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let planeArguments = [
            "--tls-cert", certs.serverA.certificatePath, "--tls-key", certs.serverA.keyPath,
            "--require-token", "secret-token",
        ]
        // TLS to the control plane: its certificate (for a.example.com) chains to the test CA.
        let secured = ["--xds-ca-file", certs.ca.certificatePath, "--xds-authority", "a.example.com"]
        let setup = try await self.start(planeArguments: planeArguments, extraSource: secured + ["--xds-token-file", tokenFile])
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        #expect(try Self.hit(setup.port) == "backend-a")
        let first = try #require(try setup.plane.requests().first { $0["authorization"] as? String != nil })
        #expect(first["authorization"] as? String == "Bearer secret-token")

        // A wrong token: UNAUTHENTICATED, never ready, and /ready says why.
        try "wrong\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let refused = try GatewayProcess(
            source: ["--xds-address", "127.0.0.1:\(setup.plane.xdsPort)"] + secured + ["--xds-token-file", tokenFile],
            extraArguments: ["--labels", "istio=ingressgateway", "--xds-backoff-max-milliseconds", "200"],
            environment: [:])
        let why = try await Self.until("unauthenticated") {
            let (status, text) = (try? await HTTP.get(port: refused.adminPort, path: "/ready")) ?? (0, "")
            return status == 503 && text.lowercased().contains("unauthenticated") ? "unauthenticated" : text
        }
        #expect(why == "unauthenticated")
        // The token is read again for every new stream: a rotated token gets through without a restart.
        try "secret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await refused.waitUntilReady()
    }

    @Test(.enabled(if: available)) func meshConfigOutboundPolicyComesFromTheControlPlane() async throws {
        // (Istio's own default, ALLOW_ANY, never applies at a gateway: undeclared hosts get 404.)
        let setup = try await self.start()
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        #expect(try Self.hit(setup.port, host: "undeclared.example.com") == "status 404")
        try setup.plane.put(CP.meshConfigType, [["outboundTrafficPolicy": ["mode": "REGISTRY_ONLY"]]])
        // REGISTRY_ONLY is the zero value of the proto enum, so it is absent from the wire: still understood.
        #expect(try await Self.until("status 502") { try Self.hit(setup.port, host: "undeclared.example.com") }
            == "status 502")
        _ = try await setup.plane.waitForRequest {
            $0["kind"] as? String == "ack" && $0["type_url"] as? String == CP.meshConfigType
                && $0["version_info"] as? String != "0"
        }
        try setup.plane.put(CP.meshConfigType, [["outboundTrafficPolicy": ["mode": "ALLOW_ANY"]]])
        #expect(try await Self.until("status 404") { try Self.hit(setup.port, host: "undeclared.example.com") }
            == "status 404")
        #expect(try Self.hit(setup.port) == "backend-a")
    }

    /// A co-located istio-agent serves plaintext xDS on a Unix socket (`unix:PATH`).
    @Test(.enabled(if: available)) func aLocalAgentOnAUnixSocket() async throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("xds-\(UUID().uuidString.prefix(8)).sock").path
        defer { try? FileManager.default.removeItem(atPath: socket) }
        let setup = try await self.start(planeArguments: ["--unix-socket", socket], address: "unix:\(socket)")
        defer { setup.plane.stop() }
        try await setup.gateway.waitUntilReady()
        #expect(try Self.hit(setup.port) == "backend-a")
    }

    /// A first config that fails validation: NACKed, the gateway stays not ready and says why; the fix makes it
    /// ready (any later push retries the whole first sync).
    @Test(.enabled(if: available)) func aRejectedFirstConfigKeepsTheGatewayNotReadyUntilFixed() async throws {
        let plane = try await XDSControlPlane()
        defer { plane.stop() }
        let port = try FreePort.allocate()
        try plane.put(CP.gatewayType, [CP.gateway(port: port)])
        var bad = CP.virtualService("shop", hosts: ["shop.example.com"], to: "a.internal")
        bad["spec"] = ["hosts": ["shop.example.com"], "gateways": ["istio-system/gw"],
                       "http": [["route": [["destination": ["host": "a.internal"], "weight": -5]]]]]
        try plane.put(CP.virtualServiceType, [bad])
        let gateway = try GatewayProcess(
            source: ["--xds-address", "127.0.0.1:\(plane.xdsPort)"],
            extraArguments: ["--labels", "istio=ingressgateway", "--xds-backoff-max-milliseconds", "200"],
            environment: [:])
        let nack = try await plane.waitForRequest { $0["kind"] as? String == "nack" }
        let reason = (nack["error_detail"] as? [String: Any])?["message"] as? String ?? ""
        #expect(reason.contains("weight"), "\(reason)")
        let (status, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(status == 503)
        #expect(body.contains("configuration rejected"), "\(body)")

        try plane.put(CP.virtualServiceType, [CP.virtualService("shop", hosts: ["shop.example.com"], to: "a.internal")])
        try await gateway.waitUntilReady()
        #expect(try Self.hit(port) == "status 503", "routed; a.internal has no ServiceEntry here")
    }
}
