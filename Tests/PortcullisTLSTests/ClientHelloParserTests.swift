import NIOCore
import NIOEmbedded
import PortcullisTLS
import Testing

@Suite("ClientHello parsing for passthrough routing")
struct ClientHelloParserTests {
    /// The first flight of a real ``TLSClientHandler``: its ClientHello.
    private static func capturedClientHello(serverName: String?, alpn: [String]) throws -> [UInt8] {
        let fixtures = try CertificateFixtures.shared()
        let context = try Contexts.client(fixtures) { $0.alpn = alpn }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(TLSClientHandler(context: context, serverName: serverName))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        let hello = try #require(try channel.readOutbound(as: ByteBuffer.self))
        _ = try? channel.finish()
        return Array(hello.readableBytesView)
    }

    @Test("a real ClientHello yields its SNI and ALPN offer")
    func realClientHello() throws {
        let hello = try Self.capturedClientHello(serverName: "alpha.example.com", alpn: ["h2", "http/1.1"])
        #expect(
            ClientHelloParser.parse(ByteBuffer(bytes: hello))
                == .hello(serverName: "alpha.example.com", alpn: ["h2", "http/1.1"]))
        let bare = try Self.capturedClientHello(serverName: nil, alpn: [])
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: bare)) == .hello(serverName: nil, alpn: []))
    }

    @Test("every truncation of a real ClientHello asks for more")
    func truncated() throws {
        let hello = try Self.capturedClientHello(serverName: "alpha.example.com", alpn: ["h2"])
        for length in 0..<hello.count {
            #expect(ClientHelloParser.parse(ByteBuffer(bytes: hello.prefix(length))) == .needMore, "\(length)")
        }
    }

    @Test("a ClientHello split over two records is reassembled; bytes after it are ignored")
    func fragmented() throws {
        let hello = try Self.capturedClientHello(serverName: "split.example.com", alpn: ["http/1.1"])
        let message = Array(hello[5...])
        let cut = 40
        func record(_ fragment: ArraySlice<UInt8>) -> [UInt8] {
            [0x16, 0x03, 0x01, UInt8(fragment.count >> 8), UInt8(fragment.count & 0xff)] + fragment
        }
        let split = record(message[..<cut]) + record(message[cut...])
        let expected = ClientHelloParser.Result.hello(serverName: "split.example.com", alpn: ["http/1.1"])
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: split)) == expected)
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: split + [0x17, 0x03, 0x03])) == expected)
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: record(message[..<cut]))) == .needMore)
    }

    @Test(
        "not TLS",
        arguments: [
            Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
            Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8),
            [0x16, 0x00],  // not version 3.x
            [0x17, 0x03, 0x03, 0x00, 0x10],  // application data first
            [0x16, 0x03, 0x01, 0x00, 0x00],  // empty record
            [0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00],  // ServerHello, not ClientHello
            [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x4e, 0x20],  // a 20000-byte ClientHello: over the bound
            [0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03],  // body too short
        ] as [[UInt8]])
    func notTLS(bytes: [UInt8]) {
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: bytes)) == .notTLS)
    }

    @Test("corrupted lengths inside a real ClientHello are rejected, never trapped on")
    func corrupted() throws {
        let hello = try Self.capturedClientHello(serverName: "alpha.example.com", alpn: ["h2"])
        // Overwrite each byte after the record and handshake headers with 0xff in turn: the parser must return
        // without trapping, and never report a host name that is not ASCII (RFC 6066 §3).
        for index in 9..<hello.count {
            var mutated = hello
            mutated[index] = 0xff
            let result = ClientHelloParser.parse(ByteBuffer(bytes: mutated))
            if case .hello(let name?, _) = result {
                #expect(name == "alpha.example.com")
            }
        }
        // The extensions length claiming more than the message holds.
        let headerLength = 5 + 4 + 2 + 32
        let sessionIDLength = Int(hello[headerLength])
        var offset = headerLength + 1 + sessionIDLength
        offset += 2 + (Int(hello[offset]) << 8 | Int(hello[offset + 1]))
        offset += 1 + Int(hello[offset])
        var broken = hello
        broken[offset] = 0xff
        #expect(ClientHelloParser.parse(ByteBuffer(bytes: broken)) == .notTLS)
    }

    @Test("the parser reads without consuming")
    func doesNotConsume() throws {
        let hello = try Self.capturedClientHello(serverName: "alpha.example.com", alpn: [])
        let buffer = ByteBuffer(bytes: hello)
        _ = ClientHelloParser.parse(buffer)
        #expect(buffer.readableBytes == hello.count)
    }
}
