import NIOCore
import PortcullisTLS

/// One downstream HTTP/1.1 connection: parses requests strictly, runs one `ProxyExchange` at a time (pipelined
/// requests wait in the input buffer and are answered in order), writes responses, and owns keep-alive, idle
/// timeout, drain and the switch to a raw tunnel after a `101`.
final class DownstreamHTTP1Handler: ChannelInboundHandler, DownstreamConnectionHandle, DownstreamStream {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let worker: Worker
    let listenerPort: Int
    let scheme: String
    /// The terminating Gateway server whose route table applies (HTTPS); nil = the listener's shared table.
    let serverKey: TLSMaterial.ServerKey?
    /// What the TLS handshake told us about the client (mutual TLS), for `x-forwarded-client-cert`.
    private(set) var peerTLS: TLSHandshakeCompleted?
    private var activated = false
    private var context: ChannelHandlerContext?
    private var parser = HTTP1RequestParser()
    /// Received bytes not yet parsed.
    private var input: ByteBuffer?
    private var exchange: ProxyExchange?
    /// Between a request head and its end in the parser.
    private var requestInProgress = false
    /// The current request's remaining body is read and thrown away (its exchange already answered).
    private var discardingBody = false
    private var discardedBytes = 0
    private var processing = false
    private var tunnel = false
    private var closing = false
    private var draining = false
    private var readPausedForPipeline = false
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private(set) var remoteIP = "-"
    private(set) var remoteAddress = "-"
    private(set) var localAddress = "-"
    private let emptyBuffer = ByteBuffer()

    init(worker: Worker, listenerPort: Int, scheme: String, serverKey: TLSMaterial.ServerKey? = nil) {
        self.worker = worker
        self.listenerPort = listenerPort
        self.scheme = scheme
        self.serverKey = serverKey
    }

    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var eventLoop: EventLoop { self.worker.eventLoop }

    /// Whether the response now being written must end the connection.
    func mustCloseAfterResponse(requestKeepAlive: Bool) -> Bool {
        if self.closing || self.draining || self.worker.services.isDraining || !requestKeepAlive { return true }
        // A request whose body we have not fully read: small bodies are drained, others force a close
        // (HARDENING §B1 #14: never parse leftover body bytes as the next request).
        return self.requestInProgress && self.exchange?.remainingRequestBodyIsLarge ?? false
    }

    // MARK: Writing (called by the exchange)

    func write(_ buffer: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func writeResponseHead(status: Int, reason: String?, headers: HTTPHeaderList) {
        var buffer = self.allocator.buffer(capacity: status == 101 ? 256 : 512)
        HTTP1Serializer.writeResponseHead(status: status, reason: reason, headers: headers, into: &buffer)
        self.write(buffer)
    }

    func writeContinue() {
        var interim = self.allocator.buffer(capacity: 32)
        interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        self.write(interim)
        self.flush()
    }

    func writeResponseBody(_ body: ByteBuffer, chunked: Bool) {
        guard chunked else {
            self.write(body)
            return
        }
        var framed = self.allocator.buffer(capacity: body.readableBytes + 16)
        HTTP1Serializer.writeChunk(body, into: &framed)
        self.write(framed)
    }

    func writeResponseEnd(trailers: HTTPHeaderList?, chunked: Bool) {
        guard chunked else { return }
        var framed = self.allocator.buffer(capacity: 8)
        HTTP1Serializer.writeLastChunk(trailers: trailers, into: &framed)
        self.write(framed)
    }

    func writeLocalReply(status: Int, headers: HTTPHeaderList, body: [UInt8]?, includeBody: Bool) {
        self.write(
            LocalReply.render(
                status: status, headers: headers, body: body, includeBody: includeBody, allocator: self.allocator))
    }

    func writeTunnelData(_ data: ByteBuffer) {
        self.write(data)
    }

    func setAutoRead(_ on: Bool) {
        guard let channel = self.context?.channel else { return }
        _ = try? channel.syncOptions?.setOption(.autoRead, value: on)
    }

    /// The exchange is done with the connection.
    func exchangeFinished(_ finished: ProxyExchange, keepAlive: Bool) {
        guard self.exchange === finished else { return }
        self.exchange = nil
        if !keepAlive || self.closing {
            self.closeGracefully()
            return
        }
        if self.requestInProgress {
            self.discardingBody = true
        }
        if self.readPausedForPipeline {
            self.readPausedForPipeline = false
            self.setAutoRead(true)
        }
        if !self.requestInProgress { self.armIdleTimer() }
        if !self.processing { self.processInput() }
    }

    /// After a `101`: from now on bytes flow raw both ways.
    func startTunnel() {
        self.tunnel = true
        if let rest = self.input, rest.readableBytes > 0 {
            self.input = nil
            self.exchange?.tunnelFromClient(rest)
        }
    }

    /// Closes the connection at once (a response already started and cannot be completed), after handing the
    /// socket what was already written (a response head, part of a body), so the client sees a truncated
    /// response rather than none: an upstream reset in the same read as the head (e.g. an HTTP/2 upstream sending
    /// DATA after a HEAD's head) still delivers the head.
    func abort() {
        self.closing = true
        self.context?.flush()
        self.context?.close(promise: nil)
    }

    func closeGracefully() {
        self.closing = true
        guard let context = self.context else { return }
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
            .assumeIsolated().whenComplete { _ in
                self.context?.close(promise: nil)
            }
    }

    /// Drain (SIGTERM): close now if idle, else after the current response.
    func drain() {
        self.draining = true
        if self.exchange == nil && !self.requestInProgress { self.closeGracefully() }
    }
}

extension DownstreamHTTP1Handler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added after the fact (behind a TLS handler, once the ClientHello chose this server): set up now.
        if context.channel.isActive { self.activate(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.activate(context: context)
        context.fireChannelActive()
    }

    private func activate(context: ChannelHandlerContext) {
        guard !self.activated else { return }
        self.activated = true
        if let remote = context.channel.remoteAddress {
            self.remoteIP = remote.ipAddress ?? "-"
            self.remoteAddress = UpstreamConnection.format(remote)
        }
        if let local = context.channel.localAddress { self.localAddress = UpstreamConnection.format(local) }
        self.worker.register(self)
        self.armIdleTimer()
        if self.serverKey != nil {
            // A client that sent its ClientHello but never finishes the handshake is cut off (HARDENING §B9).
            let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
            self.worker.eventLoop.scheduleTask(in: Self.handshakeTimeout) {
                let handler = bound.value
                if handler.peerTLS == nil { handler.abort() }
            }
        }
    }

    /// Time allowed to complete a TLS handshake after the ClientHello.
    static let handshakeTimeout = TimeAmount.seconds(15)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            self.peerTLS = handshake
        } else if let event = event as? ChannelEvent, case .inputClosed = event {
            // The client finished sending (TLS close_notify or TCP half-close): nothing more will arrive.
            if self.exchange == nil { self.closeGracefully() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        self.idleTimer?.cancel()
        self.worker.unregister(self)
        let exchange = self.exchange
        self.exchange = nil
        exchange?.downstreamClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        if self.tunnel {
            self.exchange?.tunnelFromClient(buffer)
            return
        }
        if self.closing { return }
        if var existing = self.input, existing.readableBytes > 0 {
            var buffer = buffer
            existing.writeBuffer(&buffer)
            self.input = existing
        } else {
            self.input = buffer
        }
        self.processInput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.exchange?.downstreamReadComplete()
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.exchange?.downstreamWritabilityChanged(context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Notes activity and makes sure one idle timer is pending. The timer re-checks when it fires instead of being
    /// re-scheduled per request (a schedule and cancel per request showed up in profiles).
    private func armIdleTimer() {
        self.lastActivity = .now()
        guard self.idleTimer == nil else { return }
        self.scheduleIdleCheck(after: self.currentIdleLimit)
    }

    /// A partly received head gets the (short) head timeout, an idle keep-alive connection the idle timeout.
    private var currentIdleLimit: TimeAmount {
        self.requestInProgress || !self.parser.isIdle
            ? self.worker.services.limits.requestHeadTimeout : self.worker.services.limits.downstreamIdleTimeout
    }

    private func scheduleIdleCheck(after delay: TimeAmount) {
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.idleTimer = self.worker.eventLoop.scheduleTask(in: delay) {
            bound.value.idleCheck()
        }
    }

    private func idleCheck() {
        self.idleTimer = nil
        guard !self.closing else { return }
        let limit = self.currentIdleLimit
        let idleFor = NIODeadline.now() - self.lastActivity
        if self.exchange == nil && idleFor >= limit {
            self.closeGracefully()
        } else {
            self.scheduleIdleCheck(after: self.exchange == nil ? limit - idleFor : limit)
        }
    }

    /// Parses as much input as the current state allows and dispatches the events.
    private func processInput() {
        self.processing = true
        defer { self.processing = false }
        while !self.closing && !self.tunnel {
            // A bodyless request's `.end` comes from an empty buffer, so parse even with no bytes left.
            var buffer = self.input ?? self.emptyBuffer
            if self.exchange != nil && !self.requestInProgress {
                if buffer.readableBytes == 0 { return }
                // A pipelined request waits for the current response; bound what we buffer meanwhile.
                if buffer.readableBytes > self.worker.services.limits.maxPipelinedBytes && !self.readPausedForPipeline {
                    self.readPausedForPipeline = true
                    self.setAutoRead(false)
                }
                return
            }
            self.input = nil
            let event: HTTP1Event<HTTP1RequestHead>?
            do {
                event = try self.parser.next(&buffer)
            } catch {
                self.input = nil
                self.rejectMalformed(error)
                return
            }
            self.input = buffer.readableBytes > 0 ? buffer : nil
            guard let event else { return }
            switch event {
            case .head(let head):
                self.lastActivity = .now()
                self.requestInProgress = true
                self.discardingBody = false
                self.discardedBytes = 0
                let exchange = ProxyExchange(downstream: self, head: DownstreamRequestHead(http1: head))
                self.exchange = exchange
                exchange.start()
            case .body(let body):
                if self.discardingBody {
                    self.discardedBytes += body.readableBytes
                    continue
                }
                self.exchange?.requestBody(body)
            case .end(let trailers):
                self.requestInProgress = false
                if self.discardingBody {
                    self.discardingBody = false
                    self.armIdleTimer()
                    continue
                }
                self.exchange?.requestEnd(trailers)
            }
        }
    }

    /// A framing or syntax error: answer with its status and close before anything reaches an upstream.
    private func rejectMalformed(_ error: HTTP1ParseError) {
        self.closing = true
        if let exchange = self.exchange {
            // Mid-body error on a forwarded request: the upstream request is aborted.
            self.exchange = nil
            exchange.downstreamProtocolError(error)
            if exchange.responseStarted {
                self.context?.close(promise: nil)
                return
            }
        }
        let reply = LocalReply.render(
            status: error.status, body: nil, extraHeaders: [("connection", "close")], worker: self.worker,
            allocator: self.allocator)
        self.write(reply)
        self.closeGracefully()
        LocalReply.logMalformed(error: error, handler: self)
    }
}

@available(*, unavailable)
extension DownstreamHTTP1Handler: Sendable {}

/// Creates downstream handlers for the server's channel initializers (the handler type stays internal).
public enum DownstreamHTTP1HandlerFactory {
    public static func make(
        worker: Worker, listenerPort: Int, scheme: String, serverKey: TLSMaterial.ServerKey? = nil
    ) -> any ChannelHandler {
        DownstreamHTTP1Handler(worker: worker, listenerPort: listenerPort, scheme: scheme, serverKey: serverKey)
    }

    /// For plaintext HTTP listeners: sniffs the HTTP/2 preface, then installs HTTP/2 (h2c) or HTTP/1.1.
    public static func plaintext(worker: Worker, listenerPort: Int) -> any ChannelHandler {
        HTTPPrefaceSniffer(worker: worker, port: listenerPort)
    }
}
