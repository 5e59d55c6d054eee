import NIOCore
import PortcullisTLS

/// Installs the downstream codec for a connection: HTTP/2 or HTTP/1.1 (ARCHITECTURE "Codec").
enum DownstreamCodec {
    /// Adds the HTTP/2 handler when `http2`, else the HTTP/1.1 one, right after `handler`.
    static func install(
        http2: Bool, after handler: ChannelHandler, context: ChannelHandlerContext, worker: Worker, port: Int,
        scheme: String, serverKey: TLSMaterial.ServerKey?, peerTLS: TLSHandshakeCompleted?
    ) throws {
        let pipeline = context.pipeline.syncOperations
        if http2,
            let h2 = DownstreamHTTP2Handler.make(
                worker: worker, listenerPort: port, scheme: scheme, serverKey: serverKey, peerTLS: peerTLS)
        {
            try pipeline.addHandler(h2, position: .after(handler))
        } else {
            try pipeline.addHandler(
                DownstreamHTTP1Handler(worker: worker, listenerPort: port, scheme: scheme, serverKey: serverKey),
                position: .after(handler))
        }
    }
}

/// First handler on plaintext HTTP listeners: reads until the bytes either match the HTTP/2 connection preface
/// (h2c with prior knowledge, RFC 9113 §3.3) or cannot, then installs that codec and removes itself. HTTP/1.1
/// decides on the first byte that differs, so it pays nothing measurable.
final class HTTPPrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler, DownstreamConnectionHandle {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let worker: Worker
    private let port: Int
    var listenerPort: Int { self.port }
    private var buffer: ByteBuffer?
    private var decided = false
    private var context: ChannelHandlerContext?
    private var timeout: Scheduled<Void>?

    init(worker: Worker, port: Int) {
        self.worker = worker
        self.port = port
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.worker.register(self)
        // A connection that never sends a byte is closed like an idle HTTP/1.1 connection.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: self.worker.services.limits.downstreamIdleTimeout) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timeout?.cancel()
        self.worker.unregister(self)
        self.context = nil
    }

    /// Drain before the first byte: nothing is in flight, so close.
    func drain() {
        guard !self.decided else { return }
        self.context?.close(promise: nil)
    }

    /// Whether `bytes` is the preface (true), cannot become it (false), or is a prefix of it (nil).
    static func matches(_ bytes: ByteBuffer) -> Bool? {
        let count = min(bytes.readableBytes, Self.preface.count)
        guard let view = bytes.getBytes(at: bytes.readerIndex, length: count) else { return nil }
        for index in 0..<count where view[index] != Self.preface[index] { return false }
        return count == Self.preface.count ? true : nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        guard !self.decided else {
            context.fireChannelRead(data)
            return
        }
        if self.buffer == nil {
            self.buffer = incoming
        } else {
            self.buffer!.writeBuffer(&incoming)
        }
        guard let buffer = self.buffer, let isHTTP2 = Self.matches(buffer) else { return }
        self.decided = true
        self.buffer = nil
        do {
            try DownstreamCodec.install(
                http2: isHTTP2, after: self, context: context, worker: self.worker, port: self.port, scheme: "http",
                serverKey: nil, peerTLS: nil)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(self.wrapInboundOut(buffer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTPPrefaceSniffer: Sendable {}

/// After TLS termination: waits for the handshake and installs HTTP/2 when ALPN chose `h2`, else HTTP/1.1.
final class ALPNCodecSelector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let worker: Worker
    private let port: Int
    private let serverKey: TLSMaterial.ServerKey
    private var pending: [ByteBuffer] = []
    private var decided = false
    private var timeout: Scheduled<Void>?

    /// Time allowed to complete a TLS handshake after the ClientHello (HARDENING §B9).
    static let handshakeTimeout = TimeAmount.seconds(15)

    init(worker: Worker, port: Int, serverKey: TLSMaterial.ServerKey) {
        self.worker = worker
        self.port = port
        self.serverKey = serverKey
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: Self.handshakeTimeout) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.decided {
            context.fireChannelRead(data)
        } else {
            self.pending.append(self.unwrapInboundIn(data))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard !self.decided, let handshake = event as? TLSHandshakeCompleted else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.decided = true
        self.timeout?.cancel()
        do {
            try DownstreamCodec.install(
                http2: handshake.negotiatedALPN == "h2", after: self, context: context, worker: self.worker,
                port: self.port, scheme: "https", serverKey: self.serverKey, peerTLS: handshake)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
        let pending = self.pending
        self.pending.removeAll()
        for buffer in pending { context.fireChannelRead(self.wrapInboundOut(buffer)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ALPNCodecSelector: Sendable {}
