import NIOCore
import NIOEmbedded
import PortcullisTLS
import Testing

@Suite("Certificate verification, mutual TLS and versions")
struct TLSVerificationTests {
    @Test("a server certificate from an untrusted CA fails with the verify reason")
    func untrustedCA() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.rogue))
        try pair.interact()
        let error = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(error.kind == .handshakeFailed)
        #expect(error.verifyResult == "unable to get local issuer certificate")
        #expect(error.verifyResultCode == 20)
        #expect(error.openSSLErrors.contains { $0.contains("certificate verify failed") })
        #expect("\(error)".contains("unable to get local issuer certificate"))
        // The client's alert tells the server why.
        #expect(pair.serverRecorder.tlsErrors.first?.openSSLErrors.contains { $0.contains("unknown ca") } == true)
    }

    @Test("a certificate for another name fails with hostname mismatch; verifyHostname overrides the SNI")
    func wrongHostname() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "beta.other.test",
            serverContext: try Contexts.server(fixtures.alpha))
        try pair.interact()
        let error = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(error.verifyResult == "hostname mismatch")
        #expect(error.verifyResultCode == 62)

        let overridden = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.verifyHostname = "alpha.example.com" },
            serverName: "beta.other.test", serverContext: try Contexts.server(fixtures.alpha))
        try overridden.interact()
        #expect(overridden.bothHandshakesCompleted)
    }

    @Test(
        "subjectAltNames replace the hostname check",
        arguments: [
            (["spiffe://cluster.local/ns/x/sa/y", "alpha.example.com"], true),
            (["ALPHA.example.com"], true),
            (["spiffe://cluster.local/ns/x/sa/y"], false),
            (["example.com"], false),
        ] as [([String], Bool)])
    func subjectAltNames(allowed: [String], succeeds: Bool) throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.subjectAltNames = allowed },
            serverName: "not-the-cert-name.test", serverContext: try Contexts.server(fixtures.alpha))
        try pair.interact()
        #expect(pair.bothHandshakesCompleted == succeeds)
        if !succeeds {
            let error = try #require(pair.clientRecorder.tlsErrors.first)
            #expect(error.verifyResult?.contains("subject alt names") == true)
            #expect(error.verifyResultCode == 50)
        }
    }

    @Test("a wildcard SAN satisfies a one-label name in the allow-list")
    func wildcardSubjectAltName() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.subjectAltNames = ["shop.example.com"] },
            serverName: "shop.example.com", serverContext: try Contexts.server(fixtures.wildcard))
        try pair.interact()
        #expect(pair.bothHandshakesCompleted)
    }

    @Test("insecureSkipVerify accepts an untrusted certificate for the wrong name")
    func insecureSkipVerify() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.insecureSkipVerify = true },
            serverName: "whatever.test", serverContext: try Contexts.server(fixtures.rogue))
        try pair.interact()
        #expect(pair.bothHandshakesCompleted)
    }

    enum ClientCertificate: String, CaseIterable, Sendable {
        case good, missing, wronglySigned
    }

    @Test(
        "mutual TLS: required and optional, with a good, missing or wrongly signed client certificate",
        arguments: [TLSClientAuthentication.required, .optional], ClientCertificate.allCases)
    func mutualTLS(mode: TLSClientAuthentication, presented: ClientCertificate) throws {
        let fixtures = try CertificateFixtures.shared()
        let server = try Contexts.server(fixtures.alpha) {
            $0.clientAuth = mode
            $0.trustRoots = .file(fixtures.trustedCAPath)
        }
        let client = try Contexts.client(fixtures) {
            switch presented {
            case .good: $0.certificate = fixtures.client.fileSource
            case .missing: $0.certificate = nil
            case .wronglySigned: $0.certificate = fixtures.rogueClient.pemSource
            }
        }
        let pair = try InMemoryTLSPair(clientContext: client, serverName: "alpha.example.com", serverContext: server)
        pair.clientSend("hello")
        try pair.interact()

        switch (mode, presented) {
        case (_, .good):
            let handshake = try #require(pair.serverRecorder.handshakes.first)
            #expect(handshake.peerCertificateSubjectAltNames == [CertificateFixtures.clientSPIFFE, "client.test"])
            #expect(handshake.peerCertificatePEM != nil)
            #expect(pair.serverRecorder.receivedString == "hello")
        case (.optional, .missing):
            #expect(pair.serverRecorder.handshakes.first?.peerCertificatePEM == nil)
            #expect(pair.serverRecorder.receivedString == "hello")
        case (.required, .missing):
            let error = try #require(pair.serverRecorder.tlsErrors.first)
            #expect(error.openSSLErrors.contains { $0.contains("peer did not return a certificate") })
            #expect(pair.serverRecorder.receivedString.isEmpty)
            // TLS 1.3: the client finished first and learns of the refusal from the server's alert.
            #expect(pair.clientRecorder.tlsErrors.first?.openSSLErrors.contains { $0.contains("alert") } == true)
        case (_, .wronglySigned):
            let error = try #require(pair.serverRecorder.tlsErrors.first)
            #expect(error.verifyResult == "unable to get local issuer certificate")
            #expect(pair.serverRecorder.receivedString.isEmpty)
            #expect(!pair.client.isActive)
        case (.none, _):
            Issue.record("not a parameter")
        }
    }

    @Test("the server's SAN allow-list for client certificates (MUTUAL subjectAltNames)", arguments: [true, false])
    func clientSubjectAltNames(matching: Bool) throws {
        let fixtures = try CertificateFixtures.shared()
        let server = try Contexts.server(fixtures.alpha) {
            $0.clientAuth = .required
            $0.trustRoots = .pem(fixtures.trustedCAPEM)
            $0.verifySubjectAltNames = [
                matching ? CertificateFixtures.clientSPIFFE : "spiffe://cluster.local/ns/a/sa/b"
            ]
        }
        let client = try Contexts.client(fixtures) { $0.certificate = fixtures.client.pemSource }
        let pair = try InMemoryTLSPair(clientContext: client, serverName: "alpha.example.com", serverContext: server)
        pair.clientSend("x")
        try pair.interact()
        #expect((pair.serverRecorder.receivedString == "x") == matching)
        if !matching {
            #expect(pair.serverRecorder.tlsErrors.first?.verifyResult?.contains("subject alt names") == true)
        }
    }

    @Test("a server with minimum TLS 1.3 refuses a TLS 1.2-only client")
    func minimumVersion() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.maximumVersion = .tls12 },
            serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha) { $0.minimumVersion = .tls13 })
        try pair.interact()
        let error = try #require(pair.serverRecorder.tlsErrors.first)
        #expect(error.openSSLErrors.contains { $0.contains("unsupported protocol") })
        #expect(pair.clientRecorder.tlsErrors.first?.openSSLErrors.contains { $0.contains("protocol version") } == true)
    }

    @Test("a TLS 1.1 ClientHello is refused with a protocol_version alert")
    func tls11Refused() throws {
        let fixtures = try CertificateFixtures.shared()
        let server = EmbeddedChannel()
        let recorder = Recorder()
        try server.pipeline.syncOperations.addHandler(TLSServerHandler(context: try Contexts.server(fixtures.alpha)))
        try server.pipeline.syncOperations.addHandler(recorder)
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        try server.writeInbound(ByteBuffer(bytes: Self.tls11ClientHello))
        let error = try #require(recorder.tlsErrors.first)
        #expect(error.kind == .handshakeFailed)
        #expect(error.openSSLErrors.contains { $0.contains("unsupported protocol") })
        let alert = try #require(try server.readOutbound(as: ByteBuffer.self))
        #expect(Array(alert.readableBytesView.prefix(1)) == [21])  // alert record
        #expect(Array(alert.readableBytesView.suffix(2)) == [2, 70])  // fatal protocol_version
        #expect(!server.isActive)
    }

    @Test("configuration errors are TLSErrors with reasons")
    func configurationErrors() throws {
        let fixtures = try CertificateFixtures.shared()
        let missingRoots = #expect(throws: TLSError.self) {
            try TLSContext.server(.init(certificate: fixtures.alpha.pemSource, clientAuth: .required))
        }
        #expect(missingRoots?.kind == .configuration)
        let mismatched = #expect(throws: TLSError.self) {
            let source = TLSCertificateSource.pem(
                certificateChain: fixtures.alpha.certificatePEM, privateKey: fixtures.rogue.keyPEM)
            return try TLSContext.server(.init(certificate: source))
        }
        #expect(mismatched?.openSSLErrors.isEmpty == false)
        let missingFile = #expect(throws: TLSError.self) {
            try TLSContext.client(.init(trustRoots: .file("/nonexistent/ca.pem")))
        }
        #expect(missingFile?.description.contains("/nonexistent/ca.pem") == true)
        #expect(throws: TLSError.self) {
            try TLSContext.client(.init(minimumVersion: .tls13, maximumVersion: .tls12))
        }
        #expect(throws: TLSError.self) {
            try TLSContext.server(.init(certificate: fixtures.alpha.pemSource, cipherSuites: ["NOPE"]))
        }
        #expect(throws: TLSError.self) {
            try TLSContext.client(.init(alpn: [""]))
        }
    }

    /// A TLS 1.1 ClientHello (legacy_version 0x0302, no supported_versions), offering
    /// ECDHE-RSA-AES128-SHA and AES128-SHA with the P-256 group.
    static let tls11ClientHello: [UInt8] = {
        var body: [UInt8] = [0x03, 0x02] + [UInt8](repeating: 0x42, count: 32) + [0x00]
        body += [0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]  // cipher suites
        body += [0x01, 0x00]  // compression: null
        let extensions: [UInt8] =
            [0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]  // supported_groups: secp256r1
            + [0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]  // ec_point_formats: uncompressed
        body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xff)] + extensions
        let handshake: [UInt8] = [0x01, 0x00, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
        return [0x16, 0x03, 0x02, UInt8(handshake.count >> 8), UInt8(handshake.count & 0xff)] + handshake
    }()
}
