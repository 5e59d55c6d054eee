import Foundation
import Testing

/// SNI passthrough and TLS-terminated TCP through the real binary (ISTIO-SEMANTICS §1.4, §2.10): the client must
/// see the backend's own certificate (an `openssl s_server -www` with its own CA) and get its page.
@Suite(.serialized)
struct TLSPassthroughIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let backend: OpenSSLServer
        let certs: TestCertificates
    }

    /// One TLS port: `pt.example.com` (explicit PASSTHROUGH), `implicit.example.com` (a `tls:` block with
    /// certificate files but no `mode`, which is PASSTHROUGH: the enum default) and `a.example.com` (SIMPLE,
    /// terminated by the gateway). `tls[]` routes send both passthrough names to the s_server backend.
    private func start() async throws -> Setup {
        let certs = try TestCertificates.shared()
        let server = try OpenSSLServer(identity: certs.backend)
        do {
            try await server.waitUntilAccepting()
            let port = try FreePort.allocate()
            let gateway = try GatewayProcess(files: [
                "gateway.yaml": TLSConfigs.gateway(servers: [
                    .init(
                        port: port, name: "tls-pt", protocolName: "TLS", hosts: ["pt.example.com"],
                        tls: "{mode: PASSTHROUGH}"),
                    .init(
                        port: port, name: "tls-implicit", protocolName: "TLS", hosts: ["implicit.example.com"],
                        tls: "{serverCertificate: \(certs.serverA.certificatePath), privateKey: \(certs.serverA.keyPath)}"),
                    .init(
                        port: port, name: "https-a", hosts: ["a.example.com"],
                        tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA)),
                ]),
                "se.yaml": TLSConfigs.tlsServiceEntry(
                    name: "tls-backend", host: "tls-backend.internal", number: 9443, targetPort: server.port),
                "vs.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: passthrough, namespace: default}
                    spec:
                      hosts: [pt.example.com, implicit.example.com]
                      gateways: [istio-system/gw]
                      tls:
                      - match: [{sniHosts: [pt.example.com]}]
                        route: [{destination: {host: tls-backend.internal, port: {number: 9443}}}]
                      - match: [{sniHosts: [implicit.example.com]}]
                        route: [{destination: {host: tls-backend.internal, port: {number: 9443}}}]
                    """,
            ])
            try await gateway.waitUntilReady()
            return Setup(gateway: gateway, port: port, backend: server, certs: certs)
        } catch {
            server.stop()
            throw error
        }
    }

    @Test func passthroughReachesTheTLSBackendWithItsOwnCertificate() async throws {
        let setup = try await self.start()
        defer {
            _ = setup.gateway.stop()
            setup.backend.stop()
        }
        let result = try TLSCurl.get(
            host: "pt.example.com", port: setup.port, path: "/", caFile: setup.certs.backendCA.certificatePath)
        #expect(result.exitCode == 0, "\(result.verbose)\n\(setup.backend.log)")
        #expect(result.status == 200)
        #expect(result.serverSubject?.contains("CN=backend-server") == true, "\(result.serverSubject ?? result.verbose)")
        #expect(result.body.contains("s_server"), "\(result.body)")
        #expect(result.header("server") == nil, "no gateway header on a spliced response")

        // The gateway's CA does not vouch for what the client sees: the certificate is really the backend's.
        let gatewayCA = try TLSCurl.get(host: "pt.example.com", port: setup.port, caFile: setup.certs.ca.certificatePath)
        #expect(gatewayCA.exitCode == 60, "\(gatewayCA.verbose)")

        // A terminating server on the same port is still the gateway's.
        let terminated = try TLSCurl.get(host: "a.example.com", port: setup.port, caFile: setup.certs.ca.certificatePath)
        #expect(terminated.exitCode == 0, "\(terminated.verbose)")
        #expect(terminated.serverSubject?.contains("CN=a-server") == true)
        #expect(terminated.status == 404, "a.example.com has no http routes")
    }

    @Test func tlsServerWithoutModeIsPassthrough() async throws {
        let setup = try await self.start()
        defer {
            _ = setup.gateway.stop()
            setup.backend.stop()
        }
        let result = try TLSCurl.get(
            host: "implicit.example.com", port: setup.port, caFile: setup.certs.backendCA.certificatePath)
        #expect(result.exitCode == 0, "\(result.verbose)\n\(setup.backend.log)")
        #expect(result.status == 200)
        #expect(result.serverSubject?.contains("CN=backend-server") == true, "\(result.serverSubject ?? result.verbose)")
        #expect(result.body.contains("s_server"))
        // Also with openssl: the peer is the backend, whatever certificate the Gateway server lists.
        let sClient = try OpenSSLClient.connect(
            port: setup.port, serverName: "implicit.example.com", caFile: setup.certs.backendCA.certificatePath)
        #expect(sClient.handshakeSucceeded, "\(sClient.stderr)")
        #expect(sClient.peerCertificate?.contains("CN = backend-server") == true, "\(sClient.stderr)")
    }

    @Test func unknownSNIOnAPassthroughPortClosesTheConnection() async throws {
        let setup = try await self.start()
        defer {
            _ = setup.gateway.stop()
            setup.backend.stop()
        }
        let result = try TLSCurl.get(
            host: "other.example.com", port: setup.port, caFile: setup.certs.backendCA.certificatePath)
        #expect(result.exitCode == 35, "\(result.verbose)")
        #expect(result.status == 0)
    }

    @Test func terminatedTLSServerProxiesTCPRoutes() async throws {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "plain")
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "tls-tcp", protocolName: "TLS", hosts: ["a.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA))
            ]),
            "se.yaml": Configs.serviceEntry(name: "plain", host: "plain.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: tcp, namespace: default}
                spec:
                  hosts: [a.example.com]
                  gateways: [istio-system/gw]
                  tcp:
                  - route: [{destination: {host: plain.internal, port: {number: 80}}}]
                """,
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let result = try TLSCurl.get(
            host: "a.example.com", port: port, path: "/raw", caFile: certs.ca.certificatePath)
        #expect(result.exitCode == 0, "\(result.verbose)")
        #expect(result.serverSubject?.contains("CN=a-server") == true)
        #expect(result.status == 200)
        // Bytes were spliced, not proxied as HTTP: the backend's own headers, no gateway additions.
        #expect(result.header("server") == "test-backend")
        let seen = try #require(backend.seen.first { $0.uri == "/raw" })
        #expect(seen.header("x-request-id") == nil)
        #expect(seen.header("x-forwarded-proto") == nil)
        await backend.stop()
    }
}
