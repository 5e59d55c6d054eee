import Foundation
import Testing

/// Timeouts, connect failures with Istio's default retry, and the exact local replies of ISTIO-SEMANTICS §0.1.
@Suite(.serialized)
struct ResilienceIntegrationTests {
    private func start(endpointPorts: [Int], routeExtra: String = "") async throws -> (GatewayProcess, Int) {
        let port = try FreePort.allocate()
        let routes = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: app, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
              - name: slow
                match: [{uri: {prefix: /delay/}}]
                timeout: 2s
                route: [{destination: {host: app.default.svc.cluster.local}}]
              - name: all
                route: [{destination: {host: app.default.svc.cluster.local}}]
            """
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": Configs.serviceEntry(
                name: "app", host: "app.default.svc.cluster.local",
                endpoints: endpointPorts.map { ($0, ["app": "app"]) }),
            "vs.yaml": routes,
        ])
        try await gateway.waitUntilReady()
        return (gateway, port)
    }

    @Test func routeTimeoutGives504() async throws {
        let backend = try await TestBackend.start(name: "slow")
        let (gateway, port) = try await self.start(endpointPorts: [backend.port])
        defer { _ = gateway.stop() }
        let result = try Curl.get("http://127.0.0.1:\(port)/delay/6000")
        #expect(result.status == 504)
        #expect(result.body == "upstream request timeout")
        let fast = try Curl.get("http://127.0.0.1:\(port)/delay/10")
        #expect(fast.status == 200)
    }

    @Test func connectFailureIsRetriedOnAnotherEndpoint() async throws {
        let backend = try await TestBackend.start(name: "alive")
        let dead = try FreePort.allocate()  // nothing listens here
        let (gateway, port) = try await self.start(endpointPorts: [dead, backend.port])
        defer { _ = gateway.stop() }
        // Every request must succeed: a pick of the dead endpoint is retried (connect-failure, 2 attempts).
        for _ in 0..<20 {
            let result = try Curl.get("http://127.0.0.1:\(port)/x")
            #expect(result.status == 200)
            #expect(result.header("x-backend") == "alive")
        }
    }

    @Test func connectFailureEverywhereGives503UF() async throws {
        let dead = try FreePort.allocate()
        let (gateway, port) = try await self.start(endpointPorts: [dead])
        defer { _ = gateway.stop() }
        let result = try Curl.get("http://127.0.0.1:\(port)/x")
        #expect(result.status == 503)
        #expect(result.body.hasPrefix("upstream connect error or disconnect/reset before headers. reset reason: connection failure"))
        _ = gateway.stop()
        let log = try String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)
        #expect(log.contains(" 503 UF,URX ") || log.contains(" 503 URX,UF "))
    }

    @Test func keepAliveUpstreamConnectionsAreReused() async throws {
        let backend = try await RecordingBackend.start()
        let (gateway, port) = try await self.start(endpointPorts: [backend.port])
        defer { _ = gateway.stop() }
        let urls = (0..<20).flatMap { _ in ["-o", "/dev/null", "http://127.0.0.1:\(port)/k"] }
        let (_, out, _) = try Command.run("/usr/bin/curl", ["-s", "-w", "%{http_code}\\n"] + urls)
        #expect(out.split(separator: "\n").allSatisfy { $0 == "200" })
        let forwarded = backend.recorded.components(separatedBy: "GET /k HTTP/1.1").count - 1
        #expect(forwarded == 20)
        // One client connection, sequential requests: one upstream connection carries them all.
        #expect(backend.connections == 1)
    }

    @Test func dnsResolvedEndpointsAreReached() async throws {
        let backend = try await TestBackend.start(name: "dns")
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: external, namespace: default}
                spec:
                  hosts: [api.partner.example]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  endpoints: [{address: localhost, ports: {http: \(backend.port)}}]
                """,
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: external, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http: [{route: [{destination: {host: api.partner.example}}]}]
                """,
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let result = try Curl.get("http://127.0.0.1:\(port)/v1/items")
        #expect(result.status == 200)
        #expect(result.header("x-backend") == "dns")
    }
}
