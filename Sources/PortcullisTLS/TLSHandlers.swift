import NIOCore

/// Terminates TLS on an accepted connection: ciphertext in and out below it, plaintext above it.
///
/// The certificate is chosen by SNI through a ``TLSServerNameSelector`` before version and cipher negotiation;
/// an unknown SNI fails the handshake. After the handshake it fires ``TLSHandshakeCompleted``; failures arrive as
/// ``TLSError`` through `errorCaught`, after which the channel is closed. Closing sends `close_notify`;
/// `close(mode: .output)` half-closes. A handshake timeout is the caller's (e.g. an `IdleStateHandler`).
public final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let core: TLSHandlerCore

    /// A handler choosing among several server contexts by SNI.
    public init(selector: TLSServerNameSelector) {
        self.core = TLSHandlerCore { try TLSConnection.server(selector: selector) }
    }

    /// A handler with one server context, used whatever the SNI.
    public convenience init(context: TLSContext) {
        self.init(selector: TLSServerNameSelector(entries: [], fallback: context))
    }
}

/// Originates TLS on an outbound connection: plaintext above it, ciphertext below it.
///
/// Sends `serverName` (or the context's) as SNI and verifies the server certificate as the context says. Writes
/// made before the handshake finishes are held and sent after it. Events and errors as ``TLSServerHandler``.
public final class TLSClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let core: TLSHandlerCore

    /// A handler for one connection; `serverName` overrides the context's SNI and default verified hostname.
    public init(context: TLSContext, serverName: String?) {
        self.core = TLSHandlerCore { try TLSConnection.client(context: context, serverName: serverName) }
    }
}

@available(*, unavailable)
extension TLSServerHandler: Sendable {}

@available(*, unavailable)
extension TLSClientHandler: Sendable {}

extension TLSServerHandler {
    public func handlerAdded(context: ChannelHandlerContext) {
        self.core.handlerAdded(context: context)
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.core.channelActive(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.core.channelInactive(context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.core.channelRead(context: context, buffer: self.unwrapInboundIn(data))
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        self.core.userInboundEventTriggered(context: context, event: event)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.core.write(context: context, buffer: self.unwrapOutboundIn(data), promise: promise)
    }

    public func flush(context: ChannelHandlerContext) {
        self.core.flush(context: context)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.core.close(context: context, mode: mode, promise: promise)
    }
}

extension TLSClientHandler {
    public func handlerAdded(context: ChannelHandlerContext) {
        self.core.handlerAdded(context: context)
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.core.channelActive(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.core.channelInactive(context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.core.channelRead(context: context, buffer: self.unwrapInboundIn(data))
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        self.core.userInboundEventTriggered(context: context, event: event)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.core.write(context: context, buffer: self.unwrapOutboundIn(data), promise: promise)
    }

    public func flush(context: ChannelHandlerContext) {
        self.core.flush(context: context)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.core.close(context: context, mode: mode, promise: promise)
    }
}
