import NIOCore
import NIOEmbedded
import PortcullisTLS
import Testing

@Suite("SNI certificate selection")
struct TLSServerNameTests {
    /// alpha.example.com exact, *.example.com wildcard, default.test as the catch-all.
    private static func selector(withFallback: Bool) throws -> TLSServerNameSelector {
        let fixtures = try CertificateFixtures.shared()
        return TLSServerNameSelector(
            entries: [
                (names: ["alpha.example.com"], context: try Contexts.server(fixtures.alpha)),
                (names: ["*.example.com"], context: try Contexts.server(fixtures.wildcard)),
            ],
            fallback: withFallback ? try Contexts.server(fixtures.fallback) : nil)
    }

    @Test(
        "exact, then wildcard, then catch-all; the verified certificate is the chosen one",
        arguments: [
            ("alpha.example.com", "alpha.example.com", ["alpha.example.com"]),
            ("ALPHA.example.com", "alpha.example.com", ["alpha.example.com"]),
            ("beta.example.com", "beta.example.com", ["*.example.com"]),
            ("deep.beta.example.com", nil, ["*.example.com"]),
            ("other.test", "default.test", ["default.test"]),
            (nil, "default.test", ["default.test"]),
        ] as [(String?, String?, [String])])
    func selection(serverName: String?, verifyHostname: String?, expectedSANs: [String]) throws {
        let fixtures = try CertificateFixtures.shared()
        let client = try Contexts.client(fixtures) {
            $0.verifyHostname = verifyHostname
            // A one-label wildcard does not cover two labels (RFC 6125 §6.4.3), so that case skips the check.
            $0.insecureSkipVerify = verifyHostname == nil
        }
        let pair = try InMemoryTLSPair(
            client: TLSClientHandler(context: client, serverName: serverName),
            server: TLSServerHandler(selector: try Self.selector(withFallback: true)))
        pair.clientSend("hi")
        try pair.interact()
        #expect(pair.clientRecorder.errors.isEmpty)
        #expect(pair.clientRecorder.handshakes.first?.peerCertificateSubjectAltNames == expectedSANs)
        #expect(pair.serverRecorder.handshakes.first?.serverName == serverName)
        #expect(pair.serverRecorder.receivedString == "hi")
    }

    @Test("an unknown SNI without a catch-all fails the handshake with unrecognized_name", arguments: ["x.test", nil])
    func unknownServerName(serverName: String?) throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            client: TLSClientHandler(context: try Contexts.client(fixtures), serverName: serverName),
            server: TLSServerHandler(selector: try Self.selector(withFallback: false)))
        try pair.interact()
        let serverError = try #require(pair.serverRecorder.tlsErrors.first)
        #expect(serverError.kind == .unknownServerName)
        #expect(serverError.message.contains(serverName ?? "no SNI"))
        let clientError = try #require(pair.clientRecorder.tlsErrors.first)
        #expect(clientError.kind == .handshakeFailed)
        #expect(clientError.openSSLErrors.contains { $0.contains("unrecognized name") })
        #expect(!pair.server.isActive && !pair.client.isActive)
        #expect(pair.clientRecorder.handshakes.isEmpty && pair.serverRecorder.handshakes.isEmpty)
    }

    @Test("the chosen context's own versions and ALPN apply, not the initial context's")
    func perServerSettings() throws {
        let fixtures = try CertificateFixtures.shared()
        let selector = TLSServerNameSelector(
            entries: [
                (names: ["alpha.example.com"], context: try Contexts.server(fixtures.alpha)),
                (
                    names: ["*.example.com"],
                    context: try Contexts.server(fixtures.wildcard) {
                        $0.maximumVersion = .tls12
                        $0.alpn = ["http/1.1"]
                    }
                ),
            ], fallback: nil)
        let client = try Contexts.client(fixtures) { $0.alpn = ["h2", "http/1.1"] }
        let pair = try InMemoryTLSPair(
            client: TLSClientHandler(context: client, serverName: "legacy.example.com"),
            server: TLSServerHandler(selector: selector))
        try pair.interact()
        let handshake = try #require(pair.clientRecorder.handshakes.first)
        #expect(handshake.protocolVersion == "TLSv1.2")
        #expect(handshake.negotiatedALPN == "http/1.1")
        #expect(handshake.peerCertificateSubjectAltNames == ["*.example.com"])
    }

    @Test("selector lookup order: exact, longest wildcard, '*' entry, case-insensitive, no trailing-dot folding")
    func lookupOrder() throws {
        let fixtures = try CertificateFixtures.shared()
        let exact = try Contexts.server(fixtures.alpha)
        let short = try Contexts.server(fixtures.wildcard)
        let long = try Contexts.server(fixtures.wildcard)
        let star = try Contexts.server(fixtures.fallback)
        let selector = TLSServerNameSelector(
            entries: [
                (names: ["*.example.com"], context: short),
                (names: ["*.api.example.com", "shop.example.com"], context: long),
                (names: ["Alpha.Example.com"], context: exact),
                (names: ["*"], context: star),
            ], fallback: nil)
        #expect(selector.context(forServerName: "alpha.example.com") === exact)
        #expect(selector.context(forServerName: "shop.example.com") === long)
        #expect(selector.context(forServerName: "v1.api.example.com") === long)
        #expect(selector.context(forServerName: "api.example.com") === short)
        #expect(selector.context(forServerName: "example.com") === star)
        #expect(selector.context(forServerName: "alpha.example.com.") === star)
        #expect(selector.context(forServerName: nil) === star)
        let strict = TLSServerNameSelector(entries: [(names: ["*.example.com"], context: short)], fallback: nil)
        #expect(strict.context(forServerName: "example.com") == nil)
        #expect(strict.context(forServerName: nil) == nil)
    }
}
