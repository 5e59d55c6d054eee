import Foundation
import Testing

/// gRPC through the real binary with Python `grpcio` on both ends (`Tests/Fixtures/grpc_peer.py`): the four call
/// kinds with their trailers, errors from the server, and gateway-generated errors as proper gRPC statuses.
@Suite(.serialized)
struct GRPCIntegrationTests {
    /// In CI (`make test` installs the modules) a missing module fails the tests instead of skipping them.
    static let available = PythonPeer.hasModules(["grpc"]) || ProcessInfo.processInfo.environment["CI"] != nil

    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let server: PythonPeer
    }

    private func start(slowBackendPort: Int? = nil) async throws -> Setup {
        let server = try await PythonPeer(script: "grpc_peer.py", arguments: ["server", "--name", "grpc-a"])
        let port = try FreePort.allocate()
        let dead = try FreePort.allocate()
        let slow = slowBackendPort ?? dead
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: echo, namespace: default}
                spec:
                  hosts: [echo.grpc.internal]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 50051, name: grpc, protocol: GRPC}]
                  endpoints: [{address: 127.0.0.1, ports: {grpc: \(server.port)}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: dead, namespace: default}
                spec:
                  hosts: [dead.grpc.internal]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 50051, name: grpc, protocol: GRPC}]
                  endpoints: [{address: 127.0.0.1, ports: {grpc: \(dead)}, labels: {version: v1}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: slow, namespace: default}
                spec:
                  hosts: [slow.grpc.internal]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  endpoints: [{address: 127.0.0.1, ports: {http: \(slow)}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: dead, namespace: default}
                spec:
                  host: dead.grpc.internal
                  subsets: [{name: v2, labels: {version: v2}}]
                """,
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: grpc, namespace: default}
                spec:
                  hosts: [grpc.example.com]
                  gateways: [istio-system/gw]
                  http:
                  - match: [{uri: {prefix: /test.Echo/}}]
                    route: [{destination: {host: echo.grpc.internal}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: slow, namespace: default}
                spec:
                  hosts: [slow.example.com]
                  gateways: [istio-system/gw]
                  http:
                  - route: [{destination: {host: slow.grpc.internal}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: empty, namespace: default}
                spec:
                  hosts: [empty.example.com]
                  gateways: [istio-system/gw]
                  http:
                  - route: [{destination: {host: dead.grpc.internal, subset: v2}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: refused, namespace: default}
                spec:
                  hosts: [refused.example.com]
                  gateways: [istio-system/gw]
                  http:
                  - route: [{destination: {host: dead.grpc.internal}}]
                    retries: {attempts: 0}
                """,
        ])
        try await gateway.waitUntilReady()
        return Setup(gateway: gateway, port: port, server: server)
    }

    private func client(_ setup: Setup, authority: String, only: String? = nil) throws -> [String: Any] {
        var arguments = ["python3", PythonPeer.fixture("grpc_peer.py"), "client", "127.0.0.1:\(setup.port)",
                         "--authority", authority]
        if let only { arguments += ["--only", only] }
        let (code, out, err) = try Command.run("/usr/bin/env", arguments)
        #expect(code == 0, "\(err)")
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8))
        return try #require(object as? [String: Any], "\(out) \(err)")
    }

    private static func call(_ results: [String: Any], _ name: String) -> [String: Any] {
        (results[name] as? [String: Any]) ?? [:]
    }

    @Test(.enabled(if: available)) func allFourCallKindsPassWithTrailers() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let results = try self.client(setup, authority: "grpc.example.com")
        let served = ["x-served-by": "grpc-a"]
        #expect(Self.call(results, "unary")["response"] as? String == "hello", "\(results)")
        #expect(Self.call(results, "unary")["trailers"] as? [String: String] == served)
        #expect(Self.call(results, "server_stream")["response"] as? [String] == ["msg-0", "msg-1", "msg-2"])
        #expect(Self.call(results, "server_stream")["trailers"] as? [String: String] == served)
        #expect(Self.call(results, "client_stream")["response"] as? String == "a+b+c")
        #expect(Self.call(results, "bidi")["response"] as? [String] == ["X", "Y"])
        #expect(Self.call(results, "bidi")["trailers"] as? [String: String] == served)
        // A server error keeps its status and message end to end.
        #expect(Self.call(results, "fail")["code"] as? String == "NOT_FOUND")
        #expect(Self.call(results, "fail")["details"] as? String == "no such thing")

        let log = try String(contentsOfFile: setup.gateway.accessLogPath, encoding: .utf8)
        #expect(log.contains("POST /test.Echo/Unary HTTP/2"), "\(log)")
        let metrics = try await setup.gateway.metrics()
        #expect(metrics.contains("request_protocol=\"grpc\""))
        #expect(metrics.contains("grpc_response_status=\"5\""), "NOT_FOUND counted")
    }

    @Test(.enabled(if: available)) func gatewayErrorsAreGRPCStatuses() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        // No endpoint in the subset: 503 "no healthy upstream" becomes UNAVAILABLE (14).
        let empty = Self.call(try self.client(setup, authority: "empty.example.com", only: "unary"), "unary")
        #expect(empty["code"] as? String == "UNAVAILABLE", "\(empty)")
        #expect(empty["details"] as? String == "no healthy upstream")
        // Connection refused: 503 UF is UNAVAILABLE with Envoy's reset text.
        let refused = Self.call(try self.client(setup, authority: "refused.example.com", only: "unary"), "unary")
        #expect(refused["code"] as? String == "UNAVAILABLE", "\(refused)")
        #expect((refused["details"] as? String)?.hasPrefix("upstream connect error") == true)
        // No route for the host: 404 becomes UNIMPLEMENTED (12).
        let unknown = Self.call(try self.client(setup, authority: "nobody.example.com", only: "unary"), "unary")
        #expect(unknown["code"] as? String == "UNIMPLEMENTED", "\(unknown)")
    }

    @Test(.enabled(if: available)) func grpcTimeoutAppliesWhenTheRouteHasNone() async throws {
        // The upstream is a plain HTTP/1.1 backend that answers after 5 s and knows nothing of gRPC deadlines, so
        // only the gateway can end the call at the deadline (a gRPC server would race it with its own).
        let backend = try await TestBackend.start(name: "slow")
        defer { Task { await backend.stop() } }
        let setup = try await self.start(slowBackendPort: backend.port)
        defer { _ = setup.gateway.stop() }
        // A raw gRPC request (5-byte frame header + "hi") with a 300 ms deadline: the gateway answers at the
        // deadline with a Trailers-Only UNAVAILABLE, Envoy's 504-to-gRPC mapping.
        let message = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-msg-\(UUID())")
        defer { try? FileManager.default.removeItem(at: message) }
        try Data([0, 0, 0, 0, 2, 0x68, 0x69]).write(to: message)
        let started = ContinuousClock.now
        let reply = try Curl.request([
            "--http2-prior-knowledge", "-X", "POST", "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-H", "grpc-timeout: 300m", "-H", "host: slow.example.com", "--data-binary", "@\(message.path)",
            "http://127.0.0.1:\(setup.port)/delay/5000",
        ])
        let elapsed = ContinuousClock.now - started
        #expect(reply.status == 200)
        #expect(reply.header("grpc-status") == "14", "\(reply.headers)")
        #expect(reply.header("grpc-message") == "upstream request timeout")
        #expect(reply.header("content-type") == "application/grpc")
        #expect(elapsed < .seconds(4), "the 300 ms grpc-timeout must cut the 5 s call short, took \(elapsed)")
    }
}
