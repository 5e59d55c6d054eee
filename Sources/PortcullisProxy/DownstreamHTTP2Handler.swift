import NIOCore
import PortcullisHTTP2
import PortcullisTLS

/// One downstream HTTP/2 connection (h2 by ALPN or h2c by prior knowledge): feeds bytes to an
/// `HTTP2ServerSession` and runs one `ProxyExchange` per stream, through the same request path as HTTP/1.
/// Session output is written after every read batch and whenever an exchange flushes; drain sends GOAWAY and
/// closes once the streams in flight have finished.
final class DownstreamHTTP2Handler: ChannelInboundHandler, DownstreamConnectionHandle {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let worker: Worker
    let listenerPort: Int
    let scheme: String
    let serverKey: TLSMaterial.ServerKey?
    let session: HTTP2ServerSession
    private(set) var peerTLS: TLSHandshakeCompleted?
    private var context: ChannelHandlerContext?
    private var streams: [Int32: DownstreamHTTP2Stream] = [:]
    private var activated = false
    private var closing = false
    private var draining = false
    private var idleTimer: Scheduled<Void>?
    private var flushTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    /// Streams found blocked on the client's window at the last flush check: DATA bytes framed by then, and
    /// since when that count has not moved.
    private var stalls: [Int32: (framed: Int, since: NIODeadline)] = [:]
    /// The socket stopped taking our bytes (the client does not read): bytes still buffered in the channel at the
    /// last flush check, and since when that amount has not gone down; cleared whenever the channel becomes
    /// writable again.
    private var socketStall: (buffered: Int, since: NIODeadline)?
    private var lastActivity = NIODeadline.now()
    /// Requests started in the current I/O cycle (reset at `channelReadComplete`).
    private var requestsThisCycle = 0
    /// Events of requests over the per-cycle cap, in arrival order, and the streams they belong to: started by
    /// `runDeferred()` a tick later unless the client resets them first.
    private var deferredEvents: [HTTP2ServerEvent] = []
    private var deferredStreams: Set<Int32> = []
    private var deferredTimer: Scheduled<Void>?
    private(set) var remoteIP = "-"
    private(set) var remoteAddress = "-"
    private(set) var localAddress = "-"

    init(
        worker: Worker, listenerPort: Int, scheme: String, serverKey: TLSMaterial.ServerKey?,
        peerTLS: TLSHandshakeCompleted?, session: HTTP2ServerSession
    ) {
        self.worker = worker
        self.listenerPort = listenerPort
        self.scheme = scheme
        self.serverKey = serverKey
        self.peerTLS = peerTLS
        self.session = session
    }

    /// Creates the handler, or nil when nghttp2 cannot make a session (out of memory).
    static func make(
        worker: Worker, listenerPort: Int, scheme: String, serverKey: TLSMaterial.ServerKey? = nil,
        peerTLS: TLSHandshakeCompleted? = nil
    ) -> DownstreamHTTP2Handler? {
        guard let session = try? HTTP2ServerSession(settings: worker.services.limits.http2) else { return nil }
        return DownstreamHTTP2Handler(
            worker: worker, listenerPort: listenerPort, scheme: scheme, serverKey: serverKey, peerTLS: peerTLS,
            session: session)
    }

    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    private var flushScheduled = false

    /// Flushes once the event loop is done with its current batch of reads, so the responses of many streams
    /// that complete in one batch leave in one write instead of one write each.
    func scheduleFlush() {
        guard !self.flushScheduled, self.context != nil else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.worker.eventLoop.execute {
            let handler = bound.value
            handler.flushScheduled = false
            handler.flushOutput()
        }
    }

    /// Writes and flushes whatever the session has framed.
    func flushOutput() {
        guard let context = self.context else { return }
        if let output = self.session.pendingOutput() {
            context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
        }
        self.closeIfDone()
    }

    /// A stream's exchange finished (or the stream was reset by us).
    func streamFinished(_ stream: DownstreamHTTP2Stream) {
        guard self.streams[stream.streamID] === stream else { return }
        self.streams[stream.streamID] = nil
        if !stream.requestEnded && self.session.bufferedBytes(streamID: stream.streamID) == 0 {
            // Answered before the client finished sending: stop the upload (RFC 9113 §8.1).
            self.session.resetStream(streamID: stream.streamID, errorCode: HTTP2ErrorCode.noError)
        }
        if self.streams.isEmpty { self.lastActivity = .now() }
    }

    /// Drain (SIGTERM or a listener removed): GOAWAY, streams in flight finish, then close.
    func drain() {
        guard !self.draining else { return }
        self.draining = true
        self.session.goAway()
        self.flushOutput()
        if self.streams.isEmpty && self.deferredStreams.isEmpty { self.close() }
    }

    private func closeIfDone() {
        guard !self.closing else { return }
        if self.session.isClosed || (self.draining && self.streams.isEmpty && self.deferredStreams.isEmpty) {
            self.close()
        }
    }

    /// Envoy's delayed close: the last frames (a GOAWAY) go out followed by a FIN, and input is read and dropped
    /// until the client closes too or `delayedCloseTimeout` passes. Closing at once with unread input makes the
    /// kernel answer with a RST, which can discard the GOAWAY still in flight, and with it the last-stream-id
    /// that tells the client what is safe to retry. The deadline holds even if the flush never completes.
    private func close() {
        guard !self.closing, let context = self.context else { return }
        self.closing = true
        if let output = self.session.pendingOutput() {
            context.write(self.wrapOutboundOut(output), promise: nil)
        }
        self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.delayedCloseTimeout) {
            self.context?.close(promise: nil)
        }
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
            .assumeIsolated().whenComplete { _ in
                guard let context = self.context else { return }
                // Keep reading (and dropping) so the client's last bytes do not sit unread.
                _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
                context.read()
                let halfClosed = context.eventLoop.makePromise(of: Void.self)
                halfClosed.futureResult.assumeIsolated().whenFailure { _ in self.context?.close(promise: nil) }
                context.close(mode: .output, promise: halfClosed)
            }
    }

    /// How long a closing connection waits for the client to close after our FIN (Envoy's 1 s default).
    static let delayedCloseTimeout: TimeAmount = .seconds(1)
}

extension DownstreamHTTP2Handler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
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
        self.scheduleIdleCheck(after: self.worker.services.limits.downstreamIdleTimeout)
        self.scheduleFlushCheck()
        // Our SETTINGS go out at once.
        self.flushOutput()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted { self.peerTLS = handshake }
        // The client's FIN during a delayed close (TLS listeners allow half-closure): done.
        if self.closing, case .inputClosed? = event as? ChannelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closing = true
        self.idleTimer?.cancel()
        self.flushTimer?.cancel()
        self.closeTimer?.cancel()
        self.deferredTimer?.cancel()
        self.deferredEvents.removeAll()
        self.deferredStreams.removeAll()
        self.worker.unregister(self)
        let streams = self.streams.values
        self.streams.removeAll()
        for stream in streams {
            let exchange = stream.exchange
            stream.exchange = nil
            exchange?.downstreamClosed()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        let events: [HTTP2ServerEvent]
        do {
            events = try self.session.receive(self.unwrapInboundIn(data))
        } catch {
            // Connection error: the session framed a GOAWAY; send it and close.
            self.close()
            return
        }
        let resetInBatch = Self.streamsReset(in: events)
        for event in events {
            // A stream the client (or the session) reset within the same read never starts an exchange, so a
            // HEADERS + RST_STREAM pair (rapid reset) or a request whose DATA broke its content-length costs no
            // upstream connection and sends nothing upstream (HARDENING §B2.1, §B3.1).
            if case .request(let streamID, _, _) = event, resetInBatch.contains(streamID) { continue }
            self.dispatch(event)
        }
        self.flushOutput()
    }

    /// Starts a request unless this I/O cycle already started the maximum, in which case it (and every later
    /// event of its stream) waits for `runDeferred()`; a reset of a waiting stream drops it unstarted.
    private func dispatch(_ event: HTTP2ServerEvent) {
        switch event {
        case .request(let streamID, _, _):
            let cap = self.worker.services.limits.http2MaxRequestsPerIOCycle
            if !self.deferredStreams.isEmpty || self.requestsThisCycle >= cap {
                self.deferredStreams.insert(streamID)
                self.deferredEvents.append(event)
                self.scheduleDeferred()
                return
            }
            self.requestsThisCycle += 1
        case .data(let streamID, _, _), .trailers(let streamID, _):
            if self.deferredStreams.contains(streamID) {
                self.deferredEvents.append(event)
                return
            }
        case .streamReset(let streamID, _):
            if self.deferredStreams.remove(streamID) != nil {
                // Never started: nothing went upstream. The session returns the window of its unread DATA.
                self.deferredEvents.removeAll { Self.stream(of: $0) == streamID }
                return
            }
        case .goAway, .windowAvailable:
            break
        }
        self.handle(event)
    }

    private static func stream(of event: HTTP2ServerEvent) -> Int32? {
        switch event {
        case .request(let streamID, _, _), .data(let streamID, _, _), .trailers(let streamID, _),
            .streamReset(let streamID, _), .windowAvailable(let streamID):
            streamID
        case .goAway:
            nil
        }
    }

    /// A 1 ms timer rather than `execute`: NIO runs tasks queued during a read before it polls for input again,
    /// and the point is to let the client's next bytes (its resets) be read first.
    private func scheduleDeferred() {
        guard self.deferredTimer == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.deferredTimer = self.worker.eventLoop.scheduleTask(in: .milliseconds(1)) {
            bound.value.runDeferred()
        }
    }

    /// Starts up to the per-cycle cap of the waiting requests, in order, with the events that followed them. Events
    /// of a stream whose request still waits stay queued behind it, so no stream's body is ever reordered.
    private func runDeferred() {
        self.deferredTimer = nil
        guard !self.closing else { return }
        self.requestsThisCycle = 0
        let cap = self.worker.services.limits.http2MaxRequestsPerIOCycle
        let events = self.deferredEvents
        self.deferredEvents = []
        for event in events {
            guard !self.closing else { return }
            guard let streamID = Self.stream(of: event) else {
                self.handle(event)
                continue
            }
            if case .request = event, self.requestsThisCycle < cap {
                self.requestsThisCycle += 1
                self.deferredStreams.remove(streamID)
            }
            if self.deferredStreams.contains(streamID) {
                self.deferredEvents.append(event)
            } else {
                self.handle(event)
            }
        }
        if !self.deferredEvents.isEmpty { self.scheduleDeferred() }
        self.flushOutput()
    }

    /// Streams reset by events of this batch (empty, without allocating, in the common case).
    private static func streamsReset(in events: [HTTP2ServerEvent]) -> Set<Int32> {
        var reset: Set<Int32> = []
        for event in events {
            if case .streamReset(let streamID, _) = event { reset.insert(streamID) }
        }
        return reset
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.requestsThisCycle = 0
        for stream in self.streams.values { stream.exchange?.downstreamReadComplete() }
        self.flushOutput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if writable { self.socketStall = nil }
        // Stop reading while we cannot write (bounds what a PING/SETTINGS flood makes us queue).
        _ = try? context.channel.syncOptions?.setOption(.autoRead, value: writable)
        for stream in self.streams.values { stream.exchange?.downstreamWritabilityChanged(writable) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func handle(_ event: HTTP2ServerEvent) {
        switch event {
        case .request(let streamID, let headers, let endStream):
            self.lastActivity = .now()
            let stream = DownstreamHTTP2Stream(connection: self, streamID: streamID)
            let head = DownstreamRequestHead(http2: headers, endStream: endStream)
            let exchange = ProxyExchange(downstream: stream, head: head)
            stream.exchange = exchange
            stream.requestEnded = endStream
            self.streams[streamID] = stream
            exchange.start()
            if endStream { stream.exchange?.requestEnd(nil) }
        case .data(let streamID, let buffer, let endStream):
            guard let stream = self.streams[streamID] else {
                self.session.consumed(streamID: streamID, bytes: buffer.readableBytes)
                return
            }
            stream.received(buffer)
            if endStream {
                stream.requestEnded = true
                stream.exchange?.requestEnd(nil)
            }
        case .trailers(let streamID, let fields):
            guard let stream = self.streams[streamID] else { return }
            stream.requestEnded = true
            var trailers = HTTPHeaderList()
            for field in fields { trailers.add(field.name, field.value) }
            stream.exchange?.requestEnd(trailers)
        case .streamReset(let streamID, _):
            guard let stream = self.streams.removeValue(forKey: streamID) else { return }
            let exchange = stream.exchange
            stream.exchange = nil
            exchange?.downstreamClosed()
        case .goAway:
            break
        case .windowAvailable(let streamID):
            self.streams[streamID]?.exchange?.downstreamWritabilityChanged(true)
        }
    }

    /// Checks for stalled streams twice per flush timeout, so a stall is caught between 1x and 1.5x of it.
    private func scheduleFlushCheck() {
        let half = self.worker.services.limits.streamFlushTimeout.nanoseconds / 2
        let period = TimeAmount.nanoseconds(max(half, 1_000_000))
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.flushTimer = self.worker.eventLoop.scheduleTask(in: period) {
            bound.value.flushCheck()
        }
    }

    /// Resets every stream whose response data has not moved for the flush timeout while waiting for the
    /// client's window (a zero-window stall, CVE-2019-9517), so it no longer holds its upstream or its queue; and
    /// closes the connection when the socket itself has taken nothing for that long (a client that stopped
    /// reading: TCP zero window, HARDENING §B4.3).
    private func flushCheck() {
        self.flushTimer = nil
        guard !self.closing, let channel = self.context?.channel else { return }
        let now = NIODeadline.now()
        let limit = self.worker.services.limits.streamFlushTimeout
        if channel.isWritable {
            self.socketStall = nil
        } else {
            // While unwritable we stop reading, so the channel's buffer only shrinks if the client reads.
            let buffered = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            if let stall = self.socketStall, buffered >= stall.buffered {
                if now - stall.since >= limit {
                    channel.close(promise: nil)
                    return
                }
            } else {
                self.socketStall = (buffered, now)
            }
        }
        var watched: [Int32: (framed: Int, since: NIODeadline)] = [:]
        for (streamID, framed) in self.session.blockedStreams() {
            guard let seen = self.stalls[streamID], seen.framed == framed else {
                watched[streamID] = (framed, now)
                continue
            }
            if now - seen.since >= limit {
                self.resetStalled(streamID)
            } else {
                watched[streamID] = seen
            }
        }
        self.stalls = watched
        self.flushOutput()
        self.scheduleFlushCheck()
    }

    private func resetStalled(_ streamID: Int32) {
        self.session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel)
        guard let stream = self.streams.removeValue(forKey: streamID) else { return }
        let exchange = stream.exchange
        stream.exchange = nil
        exchange?.downstreamStalled()
        if self.streams.isEmpty { self.lastActivity = .now() }
    }

    private func scheduleIdleCheck(after delay: TimeAmount) {
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.idleTimer = self.worker.eventLoop.scheduleTask(in: delay) {
            bound.value.idleCheck()
        }
    }

    /// An idle connection (no stream for the idle timeout) gets a GOAWAY and is closed.
    private func idleCheck() {
        self.idleTimer = nil
        guard !self.closing else { return }
        let limit = self.worker.services.limits.downstreamIdleTimeout
        let idleFor = NIODeadline.now() - self.lastActivity
        if self.streams.isEmpty && self.deferredStreams.isEmpty && idleFor >= limit {
            self.session.goAway()
            self.close()
        } else {
            self.scheduleIdleCheck(after: self.streams.isEmpty ? limit - idleFor : limit)
        }
    }
}

@available(*, unavailable)
extension DownstreamHTTP2Handler: Sendable {}
