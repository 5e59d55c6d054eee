import Foundation
import Testing

/// DestinationRule TLS origination (ISTIO-SEMANTICS §3.5): plain HTTP in, TLS out to an `openssl s_server` backend
/// with its own CA; verification failures are 503 UF with the reason in the access log.
@Suite(.serialized)
struct TLSOriginationIntegrationTests {
    private func start(backendPort: Int, tls: String, rewrite: String = "rewrite: {authority: pt.example.com}")
        async throws -> (GatewayProcess, Int)
    {
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: external, namespace: default}
                spec:
                  hosts: [pt.example.com]
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  ports: [{number: 443, name: https, protocol: HTTPS}]
                  endpoints: [{address: 127.0.0.1, ports: {https: \(backendPort)}}]
                """,
            "dr.yaml": """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: external, namespace: default}
                spec:
                  host: pt.example.com
                  trafficPolicy:
                    portLevelSettings:
                    - port: {number: 443}
                      tls: \(tls)
                """,
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: external, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http:
                  - \(rewrite)
                    route: [{destination: {host: pt.example.com, port: {number: 443}}}]
                """,
        ])
        try await gateway.waitUntilReady()
        return (gateway, port)
    }

    @Test func originatesTLSToABackendTrustedThroughCaCertificates() async throws {
        let certs = try TestCertificates.shared()
        let backend = try OpenSSLServer(identity: certs.backend)
        defer { backend.stop() }
        try await backend.waitUntilAccepting()
        let (gateway, port) = try await self.start(
            backendPort: backend.port, tls: "{mode: SIMPLE, caCertificates: \(certs.backendCA.certificatePath)}")
        defer { _ = gateway.stop() }
        let result = try Curl.get("http://127.0.0.1:\(port)/")
        #expect(result.status == 200)
        #expect(result.body.contains("s_server"))
    }

    @Test func sniFromTheDestinationRuleIsUsedAndVerified() async throws {
        let certs = try TestCertificates.shared()
        let backend = try OpenSSLServer(identity: certs.backend)
        defer { backend.stop() }
        try await backend.waitUntilAccepting()
        // The Host stays the client's (127.0.0.1:port); `sni` names the certificate's other SAN.
        let (gateway, port) = try await self.start(
            backendPort: backend.port,
            tls: "{mode: SIMPLE, sni: implicit.example.com, caCertificates: \(certs.backendCA.certificatePath)}",
            rewrite: "name: plain")
        defer { _ = gateway.stop() }
        #expect(try Curl.get("http://127.0.0.1:\(port)/").status == 200)
    }

    @Test func untrustedBackendGets503UFWithTheReasonLogged() async throws {
        let certs = try TestCertificates.shared()
        let backend = try OpenSSLServer(identity: certs.backend)
        defer { backend.stop() }
        try await backend.waitUntilAccepting()
        // No caCertificates: the system roots, which do not know the test CA.
        let (gateway, port) = try await self.start(backendPort: backend.port, tls: "{mode: SIMPLE}")
        let result = try Curl.get("http://127.0.0.1:\(port)/")
        #expect(result.status == 503)
        #expect(result.body.hasPrefix("upstream connect error or disconnect/reset before headers"))
        _ = gateway.stop()
        let log = try String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)
        #expect(log.contains(" 503 UF"))
        #expect(log.contains("certificate verify failed"))
    }

    @Test func wrongSubjectAltNameGets503() async throws {
        let certs = try TestCertificates.shared()
        let backend = try OpenSSLServer(identity: certs.backend)
        defer { backend.stop() }
        try await backend.waitUntilAccepting()
        let (gateway, port) = try await self.start(
            backendPort: backend.port,
            tls: "{mode: SIMPLE, caCertificates: \(certs.backendCA.certificatePath), subjectAltNames: [other.example.com]}")
        defer { _ = gateway.stop() }
        #expect(try Curl.get("http://127.0.0.1:\(port)/").status == 503)
    }

    @Test func insecureSkipVerifyAcceptsAnyCertificate() async throws {
        let certs = try TestCertificates.shared()
        let backend = try OpenSSLServer(identity: certs.backend)
        defer { backend.stop() }
        try await backend.waitUntilAccepting()
        let (gateway, port) = try await self.start(backendPort: backend.port, tls: "{mode: SIMPLE, insecureSkipVerify: true}")
        defer { _ = gateway.stop() }
        #expect(try Curl.get("http://127.0.0.1:\(port)/").status == 200)
    }
}
