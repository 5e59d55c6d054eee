import NIOCore

/// Splices two channels byte for byte (TCP proxying, TLS passthrough, and tunnels): reads on one side only while
/// the other can take writes, flushes once per read batch, and passes half-close on (STYLE.md rule 4).
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private weak var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Bytes counted in the direction this side receives.
    private(set) var bytesIn = 0
    /// Called once when this side's channel closes.
    var onClose: (() -> Void)?
    /// When this side last received bytes.
    private var lastRead = NIODeadline.now()
    /// The downstream side of a tunnel registers with its worker, so drain waits for it (and counts it).
    private var tracking: (worker: Worker, port: Int)?
    private var idleTimeout: TimeAmount = .zero
    private var idleCheck: Scheduled<Void>?

    private init() {}

    /// Two handlers glued to each other.
    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(data), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerWriteEOF() {
        self.context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }
}

extension GlueHandler: DownstreamConnectionHandle {
    var listenerPort: Int { self.tracking?.port ?? 0 }

    /// Makes this (downstream) side count as an open connection of `worker` until it closes, so drain waits for
    /// the tunnel up to the drain deadline, and closes the tunnel after `idleTimeout` without a byte either way
    /// (Envoy's TCP proxy `idle_timeout`, 1 h by default; `.zero` = never).
    func track(worker: Worker, listenerPort: Int, idleTimeout: TimeAmount) {
        self.tracking = (worker, listenerPort)
        self.idleTimeout = idleTimeout
        worker.register(self)
        if idleTimeout > .zero { self.scheduleIdleCheck(after: idleTimeout, on: worker.eventLoop) }
    }

    /// A tunnel has no graceful end of its own: it keeps going until either side closes or the drain deadline.
    func drain() {}

    private func scheduleIdleCheck(after delay: TimeAmount, on loop: EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        self.idleCheck = loop.scheduleTask(in: delay) { bound.value.checkIdle(on: loop) }
    }

    private func checkIdle(on loop: EventLoop) {
        self.idleCheck = nil
        guard let context = self.context else { return }
        let last = max(self.lastRead, self.partner?.lastRead ?? self.lastRead)
        let idleFor = NIODeadline.now() - last
        if idleFor >= self.idleTimeout {
            context.close(promise: nil)
        } else {
            self.scheduleIdleCheck(after: self.idleTimeout - idleFor, on: loop)
        }
    }

    private func untrack() {
        self.idleCheck?.cancel()
        self.idleCheck = nil
        if let (worker, _) = self.tracking {
            self.tracking = nil
            worker.unregister(self)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.untrack()
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.bytesIn += buffer.readableBytes
        if self.tracking != nil || self.partner?.tracking != nil { self.lastRead = .now() }
        self.partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.untrack()
        self.partner?.partnerCloseFull()
        let onClose = self.onClose
        self.onClose = nil
        onClose?()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // Half-close: the peer finished sending; tell the other side we are done writing.
            self.partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
