import NIOCore
import NIOEmbedded
import PortcullisTLS
import Testing

@Suite("TLS handlers in memory")
struct TLSHandshakeTests {
    @Test("handshake, then application data both ways; writes before the handshake are held")
    func dataBothWays() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        pair.clientSend("GET / HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n")
        try pair.interact()

        #expect(pair.bothHandshakesCompleted)
        #expect(pair.serverRecorder.receivedString == "GET / HTTP/1.1\r\nHost: alpha.example.com\r\n\r\n")
        pair.serverSend("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        try pair.interact()
        #expect(pair.clientRecorder.receivedString == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

        let client = try #require(pair.clientRecorder.handshakes.first)
        #expect(client.protocolVersion == "TLSv1.3")
        #expect(client.cipher.hasPrefix("TLS_"))
        #expect(client.serverName == "alpha.example.com")
        #expect(client.peerCertificateSubjectAltNames == ["alpha.example.com"])
        #expect(client.peerCertificatePEM?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
        #expect(client.negotiatedALPN == nil)
        let server = try #require(pair.serverRecorder.handshakes.first)
        #expect(server.serverName == "alpha.example.com")
        #expect(server.peerCertificatePEM == nil)
        #expect(server.peerCertificateSubjectAltNames.isEmpty)
        #expect(pair.clientRecorder.errors.isEmpty)
        #expect(pair.serverRecorder.errors.isEmpty)
    }

    @Test(
        "ALPN: the server's preference among what the client offers",
        arguments: [
            (["h2", "http/1.1"], ["h2", "http/1.1"], "h2"),
            (["http/1.1"], ["h2", "http/1.1"], "http/1.1"),
            (["h2", "http/1.1"], ["http/1.1"], "http/1.1"),
            (["http/1.1", "h2"], ["h2", "http/1.1"], "h2"),
            (["h2"], ["http/1.1"], nil),
        ] as [([String], [String], String?)])
    func alpn(offered: [String], served: [String], expected: String?) throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.alpn = offered }, serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha) { $0.alpn = served })
        try pair.interact()
        #expect(pair.bothHandshakesCompleted)
        #expect(pair.clientRecorder.handshakes.first?.negotiatedALPN == expected)
        #expect(pair.serverRecorder.handshakes.first?.negotiatedALPN == expected)
    }

    @Test("TLS 1.2 works when it is the ceiling, with a configured cipher suite")
    func tls12() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.maximumVersion = .tls12 },
            serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha) {
                $0.cipherSuites = ["NOT-A-CIPHER", "ECDHE-ECDSA-CHACHA20-POLY1305"]
            })
        pair.clientSend("ping")
        try pair.interact()
        #expect(pair.clientRecorder.handshakes.first?.protocolVersion == "TLSv1.2")
        #expect(pair.clientRecorder.handshakes.first?.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305")
        #expect(pair.serverRecorder.receivedString == "ping")
    }

    @Test("several writes before one flush become one SSL_write: one TLS record")
    func writesAreCoalescedPerFlush() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        try pair.interact()
        let before = pair.clientCiphertext.count
        for part in ["HTTP/1.1 ", "200 OK\r\n", "a: b\r\n", "\r\n", "body"] {
            pair.client.write(ByteBuffer(string: part), promise: nil)
        }
        #expect(try pair.client.readOutbound(as: ByteBuffer.self) == nil)  // nothing before the flush
        pair.client.flush()
        try pair.interact()
        let written = Array(pair.clientCiphertext[before...])
        #expect(written.count == 1)
        #expect(written.first.map(Self.recordCount) == 1)
        #expect(pair.serverRecorder.receivedString == "HTTP/1.1 200 OK\r\na: b\r\n\r\nbody")
    }

    @Test("write promises complete when the ciphertext is written")
    func writePromises() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        let early = pair.client.writeAndFlush(ByteBuffer(string: "early"))
        try pair.interact()
        let first = pair.client.write(ByteBuffer(string: "a"))
        let second = pair.client.write(ByteBuffer(string: "b"))
        pair.client.flush()
        try pair.interact()
        try early.wait()
        try first.wait()
        try second.wait()
        #expect(pair.serverRecorder.receivedString == "earlyab")
    }

    @Test("1 MiB round trip in both directions")
    func largePayload() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.alpn = ["h2"] }, serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        try pair.interact()
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<(1 << 20)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        pair.client.writeAndFlush(ByteBuffer(bytes: payload), promise: nil)
        try pair.interact()
        #expect(pair.serverRecorder.received.readableBytes == payload.count)
        #expect(Array(pair.serverRecorder.received.readableBytesView) == payload)

        pair.server.writeAndFlush(ByteBuffer(bytes: payload.reversed()), promise: nil)
        try pair.interact()
        #expect(Array(pair.clientRecorder.received.readableBytesView) == payload.reversed())
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    @Test("close sends close_notify; the peer answers and closes cleanly", arguments: [TLSVersion.tls12, .tls13])
    func closeNotify(version: TLSVersion) throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures) { $0.maximumVersion = version },
            serverName: "alpha.example.com", serverContext: try Contexts.server(fixtures.alpha))
        try pair.interact()
        pair.clientSend("last words")
        try pair.client.close().wait()
        let records = try #require(try pair.client.readOutbound(as: ByteBuffer.self))
        let alert = try #require(try pair.client.readOutbound(as: ByteBuffer.self))
        if version == .tls12 {
            // TLS 1.2 alerts are visible: content type 21, a 2-byte alert (encrypted, so longer on the wire).
            #expect(alert.getInteger(at: alert.readerIndex, as: UInt8.self) == 21)
        }
        try pair.server.writeInbound(records)
        try pair.server.writeInbound(alert)
        #expect(pair.serverRecorder.receivedString == "last words")
        #expect(!pair.server.isActive)
        #expect(pair.serverRecorder.errors.isEmpty)
        #expect(pair.clientRecorder.errors.isEmpty)
        // The server answered with its own close_notify before closing.
        #expect(try pair.server.readOutbound(as: ByteBuffer.self) != nil)
    }

    @Test("half-close: close(mode: .output) sends close_notify; the peer sees inputClosed and can still answer")
    func halfClose() throws {
        let fixtures = try CertificateFixtures.shared()
        let socket = HalfCloseSocket()
        let pair = try InMemoryTLSPair(
            client: TLSClientHandler(context: try Contexts.client(fixtures), serverName: "alpha.example.com"),
            server: TLSServerHandler(context: try Contexts.server(fixtures.alpha)), clientBelow: socket)
        pair.server.allowRemoteHalfClosure = true
        try pair.interact()
        pair.clientSend("request")
        try pair.client.close(mode: .output).wait()
        #expect(socket.outputClosed)
        try pair.interact()
        #expect(pair.serverRecorder.receivedString == "request")
        #expect(pair.serverRecorder.sawInputClosed)
        #expect(pair.server.isActive)

        pair.serverSend("response after half-close")
        try pair.interact()
        #expect(pair.clientRecorder.receivedString == "response after half-close")
        // A write after our own close_notify is refused.
        let late = pair.client.writeAndFlush(ByteBuffer(string: "late"))
        #expect(throws: ChannelError.outputClosed) { try late.wait() }

        try pair.server.close().wait()
        try pair.interact()
        #expect(!pair.client.isActive)  // both directions closed: the client closes
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    @Test("the peer vanishing mid-handshake or without close_notify is reported")
    func uncleanEnds() throws {
        let fixtures = try CertificateFixtures.shared()
        let pair = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        _ = try pair.client.readOutbound(as: ByteBuffer.self)  // the ClientHello never arrives
        pair.client.pipeline.fireChannelInactive()
        #expect(pair.clientRecorder.tlsErrors.first?.kind == .handshakeFailed)

        let second = try InMemoryTLSPair(
            clientContext: try Contexts.client(fixtures), serverName: "alpha.example.com",
            serverContext: try Contexts.server(fixtures.alpha))
        try second.interact()
        second.server.pipeline.fireChannelInactive()
        #expect(second.serverRecorder.tlsErrors.first?.kind == .uncleanShutdown)
    }

    @Test("garbage instead of a ClientHello fails the handshake with an OpenSSL reason")
    func garbage() throws {
        let fixtures = try CertificateFixtures.shared()
        let server = EmbeddedChannel()
        let recorder = Recorder()
        try server.pipeline.syncOperations.addHandler(TLSServerHandler(context: try Contexts.server(fixtures.alpha)))
        try server.pipeline.syncOperations.addHandler(recorder)
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        try server.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let error = try #require(recorder.tlsErrors.first)
        #expect(error.kind == .handshakeFailed)
        #expect(!error.openSSLErrors.isEmpty)
        #expect(!server.isActive)
    }

    /// Counts the TLS records in `buffer` (RFC 8446 §5.1 headers).
    static func recordCount(_ buffer: ByteBuffer) -> Int {
        var view = buffer
        var count = 0
        while view.readableBytes >= 5, let length = view.getInteger(at: view.readerIndex + 3, as: UInt16.self) {
            view.moveReaderIndex(forwardBy: 5 + Int(length))
            count += 1
        }
        return count
    }
}
