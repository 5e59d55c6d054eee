import NIOCore
import NIOEmbedded
import PortcullisTLS

extension CertificateFixtures.Identity {
    /// The identity as in-memory PEM.
    var pemSource: TLSCertificateSource {
        .pem(certificateChain: self.certificatePEM, privateKey: self.keyPEM)
    }

    /// The identity as files.
    var fileSource: TLSCertificateSource {
        .files(certificateChain: self.certificatePath, privateKey: self.keyPath)
    }
}

/// Records what reaches the top of a pipeline: plaintext, handshake events, half-close and errors.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var received = ByteBuffer()
    var handshakes: [TLSHandshakeCompleted] = []
    var errors: [any Error] = []
    var sawInputClosed = false

    var tlsErrors: [TLSError] {
        self.errors.compactMap { $0 as? TLSError }
    }

    var receivedString: String {
        String(buffer: self.received)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            self.handshakes.append(handshake)
        } else if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            self.sawInputClosed = true
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.errors.append(error)
    }
}

/// Sits below a TLS handler and turns `close(mode: .output)` into a no-op success, standing in for a socket that
/// supports half-closure (an `EmbeddedChannel` closes fully whatever the mode).
final class HalfCloseSocket: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var outputClosed = false

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output {
            self.outputClosed = true
            promise?.succeed()
        } else {
            context.close(mode: mode, promise: promise)
        }
    }
}

/// A TLS client and server on two `EmbeddedChannel`s, with ciphertext pumped between them in memory
/// (after swift-nio-ssl's `interactInMemory`).
final class InMemoryTLSPair {
    let client = EmbeddedChannel()
    let server = EmbeddedChannel()
    let clientRecorder = Recorder()
    let serverRecorder = Recorder()
    /// Every ciphertext buffer the client wrote, in order.
    private(set) var clientCiphertext: [ByteBuffer] = []

    init(
        client clientHandler: TLSClientHandler, server serverHandler: TLSServerHandler,
        clientBelow: (any ChannelHandler)? = nil, serverBelow: (any ChannelHandler)? = nil
    ) throws {
        if let serverBelow {
            try self.server.pipeline.syncOperations.addHandler(serverBelow)
        }
        try self.server.pipeline.syncOperations.addHandler(serverHandler)
        try self.server.pipeline.syncOperations.addHandler(self.serverRecorder)
        if let clientBelow {
            try self.client.pipeline.syncOperations.addHandler(clientBelow)
        }
        try self.client.pipeline.syncOperations.addHandler(clientHandler)
        try self.client.pipeline.syncOperations.addHandler(self.clientRecorder)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 443)
        try self.server.connect(to: address).wait()
        try self.client.connect(to: address).wait()
    }

    /// Convenience: builds both handlers from contexts.
    convenience init(
        clientContext: TLSContext, serverName: String?, serverContext: TLSContext
    ) throws {
        try self.init(
            client: TLSClientHandler(context: clientContext, serverName: serverName),
            server: TLSServerHandler(context: serverContext))
    }

    /// Moves ciphertext both ways until neither side has anything to send.
    func interact() throws {
        var moved = true
        while moved {
            moved = false
            while let buffer = try self.client.readOutbound(as: ByteBuffer.self) {
                self.clientCiphertext.append(buffer)
                moved = true
                if self.server.isActive {
                    try self.server.writeInbound(buffer)
                }
            }
            while let buffer = try self.server.readOutbound(as: ByteBuffer.self) {
                moved = true
                if self.client.isActive {
                    try self.client.writeInbound(buffer)
                }
            }
        }
    }

    /// Writes and flushes `text` from the client side.
    func clientSend(_ text: String) {
        self.client.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    /// Writes and flushes `text` from the server side.
    func serverSend(_ text: String) {
        self.server.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    var bothHandshakesCompleted: Bool {
        self.clientRecorder.handshakes.count == 1 && self.serverRecorder.handshakes.count == 1
    }
}

/// Builds contexts from the fixtures with the usual defaults.
enum Contexts {
    static func server(
        _ identity: CertificateFixtures.Identity, configure: (inout TLSServerConfiguration) -> Void = { _ in }
    ) throws -> TLSContext {
        var configuration = TLSServerConfiguration(certificate: identity.pemSource)
        configure(&configuration)
        return try TLSContext.server(configuration)
    }

    static func client(
        _ fixtures: CertificateFixtures, configure: (inout TLSClientConfiguration) -> Void = { _ in }
    ) throws -> TLSContext {
        var configuration = TLSClientConfiguration(trustRoots: .pem(fixtures.trustedCAPEM))
        configure(&configuration)
        return try TLSContext.client(configuration)
    }
}
