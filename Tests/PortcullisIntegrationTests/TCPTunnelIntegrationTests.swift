import Foundation
import Testing

/// Spliced TCP connections (a `TCP` Gateway server with a `tcp[]` route) through the real binary: the cluster's
/// idle timeout closes a silent tunnel, and SIGTERM drain waits for a tunnel with traffic in flight.
@Suite(.serialized)
struct TCPTunnelIntegrationTests {
    private func start(backend: TestBackend, destinationRule: String = "", drainSeconds: Int = 5) async throws
        -> (GatewayProcess, Int)
    {
        let port = try FreePort.allocate()
        var files = [
            "gw.yaml": """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: istio-system}
                spec:
                  servers:
                  - port: {number: \(port), name: tcp, protocol: TCP}
                    hosts: ["*"]
                """,
            "se.yaml": Configs.serviceEntry(name: "raw", host: "raw.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: raw, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  tcp:
                  - route: [{destination: {host: raw.internal, port: {number: 80}}}]
                """,
        ]
        if !destinationRule.isEmpty { files["dr.yaml"] = destinationRule }
        let gateway = try GatewayProcess(files: files, drainSeconds: drainSeconds)
        try await gateway.waitUntilReady()
        return (gateway, port)
    }

    @Test func idleTimeoutOfTheClusterClosesASilentTunnel() async throws {
        let backend = try await TestBackend.start(name: "raw")
        defer { Task { await backend.stop() } }
        let (gateway, port) = try await self.start(
            backend: backend,
            destinationRule: """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: raw, namespace: default}
                spec:
                  host: raw.internal
                  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 1s}}}
                """)
        defer { _ = gateway.stop() }
        let connection = try RawConnection(port: port)
        try connection.send("GET /one HTTP/1.1\r\nHost: raw\r\n\r\n")
        let reply = try connection.read(until: "\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
        // Nothing more is sent: the gateway closes the tunnel once it has been idle for 1 s.
        let started = ContinuousClock.now
        _ = try connection.readUntilClosed(timeout: .seconds(10))
        #expect(connection.peerClosed)
        #expect(ContinuousClock.now - started >= .milliseconds(500), "closed for idleness, not at once")
    }

    @Test func drainWaitsForATunnelWithTrafficInFlight() async throws {
        let backend = try await TestBackend.start(name: "raw")
        defer { Task { await backend.stop() } }
        let (gateway, port) = try await self.start(backend: backend, drainSeconds: 10)
        let connection = try RawConnection(port: port)
        try connection.send("GET /delay/1500 HTTP/1.1\r\nHost: raw\r\n\r\n")
        let deadline = ContinuousClock.now + .seconds(10)
        while backend.seen.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!backend.seen.isEmpty, "the request crossed the tunnel")
        // SIGTERM while the backend is still answering: the tunnel counts as an open connection, so the gateway
        // keeps it until the response has crossed and the client hangs up (or the drain deadline).
        gateway.terminate()
        let reply = try connection.read(until: "delayed 1500ms\n")
        #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
        #expect(gateway.process.isRunning, "still draining while the tunnel is open")
        connection.hangUp()
        gateway.process.waitUntilExit()
        #expect(gateway.process.terminationStatus == 0)
    }
}
