import Foundation
import NIOCore
import NIOPosix
import PortcullisTLS
import Testing

@Suite("Interoperability with the openssl CLI")
struct OpenSSLCommandLineTests {
    /// Greets with what the handshake settled, then closes (sending close_notify).
    private final class Greeter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let handshake = event as? TLSHandshakeCompleted {
                let text = "hello \(handshake.serverName ?? "-") \(handshake.negotiatedALPN ?? "-")\n"
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated()
                    .whenComplete { _ in context.close(promise: nil) }
            }
            context.fireUserInboundEventTriggered(event)
        }
    }

    @Test(
        "openssl s_client against a NIO server on 127.0.0.1:0",
        arguments: [
            ("alpha.example.com", "h2,http/1.1", "hello alpha.example.com h2", "alpha.example.com"),
            ("shop.example.com", "http/1.1", "hello shop.example.com http/1.1", "*.example.com"),
        ])
    func sClient(serverName: String, alpn: String, greeting: String, subjectName: String) throws {
        let fixtures = try CertificateFixtures.shared()
        let selector = TLSServerNameSelector(
            entries: [
                (names: ["alpha.example.com"], context: try Contexts.server(fixtures.alpha)),
                (names: ["*.example.com"], context: try Contexts.server(fixtures.wildcard)),
            ], fallback: nil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSServerHandler(selector: selector))
                    try channel.pipeline.syncOperations.addHandler(Greeter())
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try #require(server.localAddress?.port)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", serverName, "-alpn", alpn,
            "-CAfile", fixtures.trustedCAPath, "-verify_return_error", "-verify_hostname", serverName,
        ]
        let output = Pipe()
        let input = Pipe()  // kept open: s_client must exit because the server closed, not because stdin ended
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        let watchdog = DispatchWorkItem { [process] in process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: watchdog)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        try? input.fileHandleForWriting.close()

        #expect(text.contains(greeting), "\(text)")
        #expect(text.contains("ALPN protocol: \(alpn.split(separator: ",")[0])"), "\(text)")
        #expect(text.contains("Verify return code: 0 (ok)"), "\(text)")
        #expect(text.contains("CN = \(subjectName == "alpha.example.com" ? "alpha" : "wildcard")"), "\(text)")
        #expect(process.terminationStatus == 0, "\(text)")
    }

    @Test("openssl s_client with an unknown SNI is refused")
    func sClientUnknownName() throws {
        let fixtures = try CertificateFixtures.shared()
        let selector = TLSServerNameSelector(
            entries: [(names: ["alpha.example.com"], context: try Contexts.server(fixtures.alpha))], fallback: nil)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSServerHandler(selector: selector))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try #require(server.localAddress?.port)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "nope.test"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = Pipe()
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains("unrecognized name"), "\(text)")
        #expect(process.terminationStatus != 0)
    }
}
