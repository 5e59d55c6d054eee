import NIOCore
import PortcullisHTTP2
import PortcullisTLS

/// One multiplexed HTTP/2 connection to an upstream endpoint (h2c, or h2 by ALPN over TLS), shared by up to
/// `streamLimit` concurrent requests of its event loop. Feeds the server's bytes to an `HTTP2ClientSession` and
/// routes each stream's events to the request using it. It knows nothing of routing; the pool decides reuse.
final class UpstreamHTTP2Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The pool's key (`ip:port`, plus the TLS identity when TLS is originated).
    let poolKey: String
    let clusterName: String
    let eventLoop: EventLoop
    let session: HTTP2ClientSession
    /// `connectionPool.http.maxConcurrentStreams` (else unlimited; the server's SETTINGS still apply).
    private let streamLimit: Int
    /// `maxRequestsPerConnection` (0 = unlimited).
    private let requestLimit: Int
    let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var streams: [Int32: UpstreamHTTP2Stream] = [:]
    /// Streams promised to requests that wait for this connection or have not sent their head yet.
    private var reserved = 0
    /// Streams started over the connection's life.
    private var started = 0
    private var closing = false
    /// Connected (and TLS done); before that, checked-out requests wait on `ready`.
    private(set) var isReady = false
    let ready: EventLoopPromise<Void>
    /// A TLS handshake must finish before the connection is ready.
    var awaitingTLS = false
    weak var pool: UpstreamPool?
    /// Since when no stream has been open (for the pool's idle sweep).
    private(set) var idleSince = NIODeadline.now()

    init(
        poolKey: String, clusterName: String, eventLoop: EventLoop, session: HTTP2ClientSession, streamLimit: Int,
        requestLimit: Int, idleTimeout: TimeAmount
    ) {
        self.poolKey = poolKey
        self.clusterName = clusterName
        self.eventLoop = eventLoop
        self.ready = eventLoop.makePromise(of: Void.self)
        self.session = session
        self.streamLimit = streamLimit
        self.requestLimit = requestLimit
        self.idleTimeout = idleTimeout
    }

    /// Open, or still connecting (requests may already wait for it).
    var isActive: Bool { !self.closing && (!self.isReady || self.context?.channel.isActive == true) }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var localAddress: String? { self.context?.channel.localAddress.map(UpstreamConnection.format) }
    var remoteAddress: String? { self.context?.channel.remoteAddress.map(UpstreamConnection.format) }
    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }
    var openStreams: Int { self.streams.count + self.reserved }
    var isIdle: Bool { self.streams.isEmpty && self.reserved == 0 }

    /// Whether one more request may use this connection now.
    var canTakeStream: Bool {
        guard self.isActive, !self.session.isGoingAway else { return false }
        if self.requestLimit > 0 && self.started + self.reserved >= self.requestLimit { return false }
        let limit = min(self.streamLimit, self.isReady ? self.session.peerMaxConcurrentStreams : 100)
        return self.openStreams < limit
    }

    /// Reserves a stream for a request (call only when `canTakeStream`).
    func reserve() -> UpstreamHTTP2Stream {
        self.reserved += 1
        return UpstreamHTTP2Stream(connection: self)
    }

    /// A reserved stream is given back without having started (its request went elsewhere or gave up).
    func unreserve() {
        self.reserved = max(0, self.reserved - 1)
        self.closeIfDone()
    }

    /// Starts the stream's request; nil when the session refuses (GOAWAY, the server's stream limit).
    func start(_ stream: UpstreamHTTP2Stream, fields: [HTTP2Header], endStream: Bool) -> Int32? {
        self.reserved = max(0, self.reserved - 1)
        guard !self.closing, let id = try? self.session.startRequest(headers: fields, endStream: endStream) else {
            return nil
        }
        self.started += 1
        self.streams[id] = stream
        return id
    }

    /// The request using `streamID` is done with it (normally or by reset).
    func streamFinished(_ streamID: Int32) {
        guard self.streams.removeValue(forKey: streamID) != nil else { return }
        if self.streams.isEmpty { self.idleSince = .now() }
        self.closeIfDone()
    }

    private var flushScheduled = false

    /// Flushes after the event loop's current batch, so requests of many streams started together share writes.
    func scheduleFlush() {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.execute {
            let connection = bound.value
            connection.flushScheduled = false
            connection.flushOutput()
        }
    }

    /// Writes and flushes whatever the session has framed.
    func flushOutput() {
        guard let context = self.context, let output = self.session.pendingOutput() else { return }
        context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
    }

    /// Stops new streams; open ones finish, then the connection closes (drain, `maxRequestsPerConnection`).
    func retire() {
        self.session.goAway()
        self.flushOutput()
        self.closeIfDone()
    }

    func close() {
        guard !self.closing else { return }
        self.closing = true
        self.context?.close(promise: nil)
    }

    private func closeIfDone() {
        guard self.isIdle, !self.closing else { return }
        let exhausted = self.requestLimit > 0 && self.started >= self.requestLimit
        if self.session.isGoingAway || self.session.isClosed || exhausted { self.close() }
    }
}

extension UpstreamHTTP2Connection {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive && !self.awaitingTLS { self.becomeReady() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if !self.awaitingTLS { self.becomeReady() }
        context.fireChannelActive()
    }

    /// Connected (and TLS done): the preface and SETTINGS go out, waiting requests start.
    private func becomeReady() {
        guard !self.isReady else { return }
        self.isReady = true
        self.flushOutput()
        self.ready.succeed()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted, self.awaitingTLS {
            self.awaitingTLS = false
            self.becomeReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let events: [HTTP2ClientEvent]
        do {
            events = try self.session.receive(self.unwrapInboundIn(data))
        } catch {
            // Connection error: the session framed a GOAWAY; send it, fail every stream, close.
            self.flushOutput()
            self.failAll(reason: "\(error)")
            self.close()
            return
        }
        for event in events { self.handle(event) }
        self.flushOutput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for stream in self.streams.values { stream.receiver?.upstreamReadComplete() }
        self.flushOutput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        for stream in self.streams.values { stream.receiver?.upstreamWritabilityChanged(writable) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        let reason = self.awaitingTLS ? "connection closed during the TLS handshake" : "connection closed"
        self.failReady(TCPProxyError(reason))
        self.pool?.http2ConnectionClosed(self)
        self.failAll(reason: "connection closed")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A TLS failure (verification, protocol) before ready is a connect failure with its reason (flag UF).
        self.failReady(error)
        context.close(promise: nil)
    }

    /// Fails the requests waiting for the connection (once; nothing happens after it became ready).
    func failReady(_ error: Error) {
        guard !self.isReady else { return }
        self.isReady = true
        self.closing = true
        self.ready.fail(error)
    }

    private func failAll(reason: String) {
        let streams = self.streams
        self.streams.removeAll()
        for (_, stream) in streams { stream.failed(.reset) }
    }

    private func handle(_ event: HTTP2ClientEvent) {
        switch event {
        case .response(let streamID, let headers, let endStream):
            self.streams[streamID]?.responseHead(headers, endStream: endStream)
        case .informational(let streamID, let headers):
            self.streams[streamID]?.informationalHead(headers)
        case .data(let streamID, let buffer, let endStream):
            guard let stream = self.streams[streamID] else {
                self.session.consumed(streamID: streamID, bytes: buffer.readableBytes)
                return
            }
            stream.responseData(buffer, endStream: endStream)
        case .trailers(let streamID, let fields):
            self.streams[streamID]?.responseTrailers(fields)
        case .streamReset(let streamID, let errorCode):
            guard let stream = self.streams.removeValue(forKey: streamID) else { return }
            if self.streams.isEmpty { self.idleSince = .now() }
            stream.failed(errorCode == HTTP2ErrorCode.refusedStream ? .refused : .reset)
        case .goAway:
            // Streams above the last processed id come back as REFUSED_STREAM resets; the others finish.
            self.pool?.http2ConnectionRetiring(self)
        case .windowAvailable(let streamID):
            self.streams[streamID]?.receiver?.upstreamWritabilityChanged(true)
        }
    }
}

@available(*, unavailable)
extension UpstreamHTTP2Connection: Sendable {}
