import Foundation
import Testing

/// Client certificates through the real binary with curl: MUTUAL with a good, a missing and a wrongly signed
/// certificate, OPTIONAL_MUTUAL, `x-forwarded-client-cert` (Istio's SANITIZE_SET) and a MUTUAL credentialName whose
/// CA lives in a `<name>-cacert` Secret (ISTIO-SEMANTICS §1.4).
@Suite(.serialized)
struct TLSMutualIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let backend: TestBackend
        let certs: TestCertificates
    }

    /// One HTTPS port: `mtls.example.com` (MUTUAL), `optional.example.com` (OPTIONAL_MUTUAL), both trusting the
    /// test CA, and `a.example.com` (SIMPLE). Every host routes to the `echo` backend.
    private func start() async throws -> Setup {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let port = try FreePort.allocate()
        let ca = certs.ca.certificatePath
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "https-mtls", hosts: ["mtls.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "MUTUAL", certs.mutual, caFile: ca)),
                .init(
                    port: port, name: "https-optional", hosts: ["optional.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "OPTIONAL_MUTUAL", certs.mutual, caFile: ca)),
                .init(
                    port: port, name: "https-simple", hosts: ["a.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA)),
            ]),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": TLSConfigs.httpRoutes(
                hosts: ["mtls.example.com", "optional.example.com", "a.example.com"], destination: "echo.internal"),
        ])
        try await gateway.waitUntilReady()
        return Setup(gateway: gateway, port: port, backend: backend, certs: certs)
    }

    private func clientCert(_ identity: TestCertificates.Identity) -> [String] {
        ["--cert", identity.certificatePath, "--key", identity.keyPath]
    }

    /// What the gateway must send for the good client certificate.
    private func expectedXFCC(_ certs: TestCertificates) -> String {
        "Hash=\(certs.client.sha256Hex);Subject=\"CN=curl-client,O=Portcullis Tests\";"
            + "URI=\(TestCertificates.clientURI);DNS=\(TestCertificates.clientDNS)"
    }

    @Test func mutualWithAGoodClientCertificateForwardsXFCC() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let result = try TLSCurl.get(
            host: "mtls.example.com", port: setup.port, path: "/mtls", caFile: setup.certs.ca.certificatePath,
            self.clientCert(setup.certs.client))
        #expect(result.exitCode == 0, "\(result.verbose)")
        #expect(result.status == 200)
        let seen = try #require(setup.backend.seen.first { $0.uri == "/mtls" })
        let xfcc = try #require(seen.header("x-forwarded-client-cert"))
        #expect(xfcc.hasPrefix("Hash=\(setup.certs.client.sha256Hex);"), "\(xfcc)")
        #expect(xfcc.contains("URI=\(TestCertificates.clientURI)"), "\(xfcc)")
        #expect(xfcc.contains("DNS=\(TestCertificates.clientDNS)"), "\(xfcc)")
        #expect(xfcc == self.expectedXFCC(setup.certs))
        await setup.backend.stop()
    }

    @Test func mutualWithoutAClientCertificateFailsTheHandshake() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        // TLS 1.3: the client finishes first, so the refusal (alert certificate_required) may surface on the read.
        let tls13 = try TLSCurl.get(host: "mtls.example.com", port: setup.port, path: "/nocert", caFile: ca)
        #expect(tls13.exitCode != 0, "\(tls13.verbose)")
        #expect(tls13.status == 0)
        // Whether curl reads the certificate_required alert or first notices the closed socket depends on timing
        // (with ALPN h2 it writes its preface at once); either way no response and nothing reaches the backend.
        #expect(
            tls13.verbose.contains("alert certificate required") || tls13.verbose.contains("not connected")
                || tls13.verbose.contains("Connection reset") || tls13.verbose.contains("Recv failure"),
            "\(tls13.verbose)")
        // TLS 1.2: the server's refusal ends the handshake itself.
        let tls12 = try TLSCurl.get(
            host: "mtls.example.com", port: setup.port, path: "/nocert", caFile: ca, ["--tls-max", "1.2"])
        #expect(tls12.exitCode == 35, "\(tls12.verbose)")
        #expect(tls12.status == 0)
        #expect(!setup.backend.seen.contains { $0.uri == "/nocert" })
        await setup.backend.stop()
    }

    @Test func mutualWithAWronglySignedClientCertificateFails() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let rogue = self.clientCert(setup.certs.rogueClient)
        let tls13 = try TLSCurl.get(host: "mtls.example.com", port: setup.port, path: "/rogue", caFile: ca, rogue)
        #expect(tls13.exitCode != 0, "\(tls13.verbose)")
        #expect(tls13.status == 0)
        let tls12 = try TLSCurl.get(
            host: "mtls.example.com", port: setup.port, path: "/rogue", caFile: ca, rogue + ["--tls-max", "1.2"])
        #expect(tls12.exitCode == 35, "\(tls12.verbose)")
        #expect(tls12.status == 0)
        #expect(!setup.backend.seen.contains { $0.uri == "/rogue" })
        await setup.backend.stop()
    }

    @Test func optionalMutualAcceptsClientsWithAndWithoutACertificate() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let with = try TLSCurl.get(
            host: "optional.example.com", port: setup.port, path: "/with", caFile: ca,
            self.clientCert(setup.certs.client))
        #expect(with.exitCode == 0, "\(with.verbose)")
        #expect(with.status == 200)
        let without = try TLSCurl.get(host: "optional.example.com", port: setup.port, path: "/without", caFile: ca)
        #expect(without.exitCode == 0, "\(without.verbose)")
        #expect(without.status == 200)
        let seenWith = try #require(setup.backend.seen.first { $0.uri == "/with" })
        #expect(seenWith.header("x-forwarded-client-cert") == self.expectedXFCC(setup.certs))
        let seenWithout = try #require(setup.backend.seen.first { $0.uri == "/without" })
        #expect(seenWithout.header("x-forwarded-client-cert") == nil)
        await setup.backend.stop()
    }

    @Test func optionalMutualStillRejectsAWronglySignedCertificate() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let result = try TLSCurl.get(
            host: "optional.example.com", port: setup.port, path: "/rogue-optional",
            caFile: setup.certs.ca.certificatePath, self.clientCert(setup.certs.rogueClient) + ["--tls-max", "1.2"])
        #expect(result.exitCode == 35, "\(result.verbose)")
        #expect(!setup.backend.seen.contains { $0.uri == "/rogue-optional" })
        await setup.backend.stop()
    }

    @Test func clientSuppliedXFCCIsStripped() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let spoof = ["-H", "x-forwarded-client-cert: Hash=deadbeef;Subject=\"CN=spoofed\";URI=spiffe://evil/sa/admin"]
        // No client certificate at all (SIMPLE): the header is removed.
        let simple = try TLSCurl.get(host: "a.example.com", port: setup.port, path: "/spoof-simple", caFile: ca, spoof)
        #expect(simple.status == 200, "\(simple.verbose)")
        // OPTIONAL_MUTUAL without a certificate: removed as well.
        let optional = try TLSCurl.get(
            host: "optional.example.com", port: setup.port, path: "/spoof-optional", caFile: ca, spoof)
        #expect(optional.status == 200, "\(optional.verbose)")
        // With a certificate: replaced by the gateway's own value, never appended to the client's.
        let mutual = try TLSCurl.get(
            host: "mtls.example.com", port: setup.port, path: "/spoof-mtls", caFile: ca,
            spoof + self.clientCert(setup.certs.client))
        #expect(mutual.status == 200, "\(mutual.verbose)")

        let seen = setup.backend.seen
        let simpleSeen = try #require(seen.first { $0.uri == "/spoof-simple" })
        #expect(simpleSeen.header("x-forwarded-client-cert") == nil)
        let optionalSeen = try #require(seen.first { $0.uri == "/spoof-optional" })
        #expect(optionalSeen.header("x-forwarded-client-cert") == nil)
        let mutualSeen = try #require(seen.first { $0.uri == "/spoof-mtls" })
        let values = mutualSeen.headers.filter { $0.0.lowercased() == "x-forwarded-client-cert" }.map(\.1)
        #expect(values == [self.expectedXFCC(setup.certs)])
        #expect(!values.joined().contains("deadbeef"))
        await setup.backend.stop()
    }

    /// `subjectAltNames` on a MUTUAL server: only client certificates carrying one of the listed SANs get in.
    @Test func mutualSubjectAltNamesRestrictClientCertificates() async throws {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let port = try FreePort.allocate()
        let ca = certs.ca.certificatePath
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "https-allowed", hosts: ["mtls.example.com"],
                    tls: TLSConfigs.fileTLS(
                        mode: "MUTUAL", certs.mutual, caFile: ca, extra: "subjectAltNames: [\(TestCertificates.clientURI)]")),
                .init(
                    port: port, name: "https-other", hosts: ["optional.example.com"],
                    tls: TLSConfigs.fileTLS(
                        mode: "MUTUAL", certs.mutual, caFile: ca, extra: "subjectAltNames: [spiffe://cluster.local/ns/x/sa/other]")),
            ]),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": TLSConfigs.httpRoutes(hosts: ["mtls.example.com", "optional.example.com"], destination: "echo.internal"),
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let allowed = try TLSCurl.get(
            host: "mtls.example.com", port: port, path: "/san-ok", caFile: ca, self.clientCert(certs.client))
        #expect(allowed.status == 200, "\(allowed.verbose)")
        let refused = try TLSCurl.get(
            host: "optional.example.com", port: port, path: "/san-refused", caFile: ca,
            self.clientCert(certs.client) + ["--tls-max", "1.2"])
        #expect(refused.exitCode == 35, "\(refused.verbose)")
        #expect(!backend.seen.contains { $0.uri == "/san-refused" })
        await backend.stop()
    }

    @Test func mutualCredentialNameWithTheCAInACacertSecret() async throws {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "https-secret", hosts: ["secret.example.com"],
                    tls: "{mode: MUTUAL, credentialName: secret-cred}")
            ]),
            "secrets.yaml": TLSConfigs.secret(
                name: "secret-cred", type: "kubernetes.io/tls",
                data: ["tls.crt": certs.secretServer.certificatePEM, "tls.key": certs.secretServer.keyPEM])
                + "\n---\n"
                + TLSConfigs.secret(name: "secret-cred-cacert", type: "Opaque", data: ["ca.crt": certs.ca.certificatePEM]),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": TLSConfigs.httpRoutes(hosts: ["secret.example.com"], destination: "echo.internal"),
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let ca = certs.ca.certificatePath
        let good = try TLSCurl.get(
            host: "secret.example.com", port: port, path: "/secret-mtls", caFile: ca, self.clientCert(certs.client))
        #expect(good.exitCode == 0, "\(good.verbose)")
        #expect(good.status == 200)
        #expect(good.serverSubject?.contains("CN=secret-server") == true, "\(good.serverSubject ?? good.verbose)")
        let seen = try #require(backend.seen.first { $0.uri == "/secret-mtls" })
        #expect(seen.header("x-forwarded-client-cert") == self.expectedXFCC(certs))
        let missing = try TLSCurl.get(
            host: "secret.example.com", port: port, path: "/secret-nocert", caFile: ca, ["--tls-max", "1.2"])
        #expect(missing.exitCode == 35, "\(missing.verbose)")
        await backend.stop()
    }
}
