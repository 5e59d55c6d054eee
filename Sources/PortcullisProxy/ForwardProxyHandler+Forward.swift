import NIOCore
import PortcullisObservability
import PortcullisRouting

/// One absolute-form request being forwarded by a `ForwardProxyHandler`.
final class ForwardExchange {
    let head: HTTP1RequestHead
    let authority: String
    let target: String
    let originForm: String
    var requestSent = false
    var requestEnded = false
    var responseParser = HTTP1ResponseParser()
    var responseInput: ByteBuffer?
    var responseStarted = false
    /// The upstream body is re-framed as chunked for the client (chunked or close-delimited upstream body).
    var responseChunked = false
    /// The client connection closes after this response.
    var closeAfter = false
    /// The upstream connection may carry another request after this response.
    var upstreamKeepAlive = true
    var clientReadPaused = false
    /// `processForwardInput` is running: a writability callback during its flush must not re-enter it.
    var readingInput = false

    init(head: HTTP1RequestHead, authority: String, target: String, originForm: String) {
        self.head = head
        self.authority = authority
        self.target = target
        self.originForm = originForm
    }
}

/// Absolute-form forwarding (RFC 9112 §3.2.2; HARDENING §B7 rows 6 and 8): authorised on the request-target's
/// authority, sent upstream in origin-form with `Host` set to that authority and hop-by-hop fields removed (RFC 9110
/// §7.6.1, plus `Proxy-Connection` and `Proxy-Authorization`), the response relayed as it is: redirects are never
/// followed. One upstream connection per client connection and target, kept alive while both sides allow it.
extension ForwardProxyHandler {
    /// Fields that describe one hop and never cross the proxy (RFC 9110 §7.6.1).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "trailer", "transfer-encoding", "upgrade",
    ]

    /// Removes the fixed hop-by-hop fields and every field the `Connection` header names.
    static func removeHopByHop(_ headers: inout HTTPHeaderList) {
        var named = Self.hopByHop
        if let connection = headers.joined("connection") {
            for token in connection.split(separator: ",") {
                let trimmed = token.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }
                named.insert(String(trimmed.reversed()).lowercased())
            }
        }
        headers.removeAll { name, _ in named.contains(name.lowercased()) }
    }

    /// `http://host:port/p?q#f` → `/p?q` (RFC 9112 §3.2.1); an empty path becomes `/`.
    static func originForm(of target: String) -> String {
        guard let schemeEnd = target.range(of: "://") else { return "/" }
        let rest = target[schemeEnd.upperBound...]
        guard let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) else { return "/" }
        var path = rest[pathStart...]
        if let fragment = path.firstIndex(of: "#") { path = path[..<fragment] }
        if path.isEmpty { return "/" }
        return path.hasPrefix("/") ? String(path) : "/" + path
    }

    func startForward(_ head: HTTP1RequestHead, authority: String) {
        guard let (host, port) = Self.splitAuthority(authority, defaultPort: 80) else {
            self.refuse(status: 400, reason: "invalid request-target authority", serviceEntry: nil,
                        countAsAttempt: false)
            return
        }
        let serviceEntry: String
        switch self.allowList.decide(host: host, port: port) {
        case .denied(let reason):
            self.refuse(status: 403, reason: reason, serviceEntry: nil, refusal: Self.refusal(forDenied: host))
            return
        case .allowed(let name):
            serviceEntry = name
        }
        self.record.routeName = serviceEntry
        self.record.userAgent = head.headers.first("user-agent")
        let target = "\(host.lowercased()):\(port)"
        let exchange = ForwardExchange(
            head: head, authority: authority, target: target, originForm: Self.originForm(of: head.target))
        self.exchange = exchange
        self.state = .forwarding
        if let upstream = self.upstream, upstream.target == target, upstream.channel.isActive {
            self.record.upstreamHost = upstream.channel.remoteAddress.map(UpstreamConnection.format)
            self.sendRequestHead(exchange, over: upstream.channel)
            return
        }
        self.closeForwardUpstream()
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.resolveAndConnect(
            host: host, port: port, autoRead: true,
            initializer: { channel in
                try channel.pipeline.syncOperations.addHandler(ForwardUpstreamHandler(owner: bound.value))
            }
        ) { result in
            guard self.exchange === exchange, case .forwarding = self.state else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .failure(let failure):
                self.record.responseFlags.insert(failure.flags)
                if failure.status != 403 { self.record.upstreamTransportFailureReason = failure.reason }
                self.exchange = nil
                self.refuse(status: failure.status, reason: "\(authority): \(failure.reason)",
                            serviceEntry: serviceEntry, refusal: failure.refusal)
            case .success(let channel):
                self.upstream = (channel, target)
                self.record.upstreamLocalAddress = channel.localAddress.map(UpstreamConnection.format)
                self.sendRequestHead(exchange, over: channel)
            }
        }
    }

    private func sendRequestHead(_ exchange: ForwardExchange, over channel: Channel) {
        let head = exchange.head
        var headers = head.headers
        Self.removeHopByHop(&headers)
        headers.set("Host", exchange.authority)
        switch head.framing {
        case .chunked:
            headers.remove("content-length")
            headers.add("transfer-encoding", "chunked")
        case .contentLength(let length):
            headers.set("content-length", String(length))
        case .none, .untilClose:
            break
        }
        exchange.responseParser.expectResponse(toMethod: head.method)
        var buffer = channel.allocator.buffer(capacity: 512)
        HTTP1Serializer.writeRequestHead(
            method: head.method, target: exchange.originForm, headers: headers, into: &buffer)
        channel.write(buffer, promise: nil)
        exchange.requestSent = true
        self.processForwardInput()
        channel.flush()
    }

    /// Streams the request body upstream; the next request's head waits until this response ends.
    func processForwardInput() {
        guard let exchange = self.exchange, exchange.requestSent, !exchange.requestEnded,
            let channel = self.upstream?.channel
        else {
            if let held = self.input?.readableBytes, held > Self.maxHeldBytes { self.setAutoRead(false) }
            return
        }
        guard !exchange.readingInput else { return }
        exchange.readingInput = true
        defer { exchange.readingInput = false }
        let chunked = exchange.head.framing == .chunked
        while true {
            var buffer = self.input ?? ByteBuffer()
            let event: HTTP1Event<HTTP1RequestHead>?
            do {
                event = try self.parser.next(&buffer)
            } catch {
                self.input = nil
                self.record.responseFlags.insert(.downstreamProtocolError)
                self.failForward(status: error.status, reason: "http1.codec_error: \(error.reason)")
                return
            }
            self.input = buffer.readableBytes > 0 ? buffer : nil
            switch event {
            case nil:
                return
            case .head:
                return  // not reached: a head only follows `.end`
            case .body(let body):
                self.record.bytesReceived += body.readableBytes
                if chunked {
                    var framed = channel.allocator.buffer(capacity: body.readableBytes + 16)
                    HTTP1Serializer.writeChunk(body, into: &framed)
                    channel.write(framed, promise: nil)
                } else {
                    channel.write(body, promise: nil)
                }
                if !channel.isWritable {
                    exchange.clientReadPaused = true
                    self.setAutoRead(false)
                    channel.flush()
                    // The flush may have drained it already (upstreamWritabilityChanged cleared the pause).
                    if exchange.clientReadPaused { return }
                }
            case .end(let trailers):
                if chunked {
                    var last = channel.allocator.buffer(capacity: 16)
                    HTTP1Serializer.writeLastChunk(trailers: trailers, into: &last)
                    channel.write(last, promise: nil)
                }
                exchange.requestEnded = true
                channel.flush()
                return
            }
        }
    }

    // MARK: Upstream events (from ForwardUpstreamHandler, on the same loop)

    func upstreamRead(_ data: ByteBuffer, from channel: Channel) {
        guard channel === self.upstream?.channel, let exchange = self.exchange, exchange.requestSent else {
            // Bytes from an idle upstream (no request outstanding): never parse them as a later response.
            channel.close(promise: nil)
            if channel === self.upstream?.channel { self.upstream = nil }
            return
        }
        var buffer = data
        if var held = exchange.responseInput, held.readableBytes > 0 {
            held.writeBuffer(&buffer)
            buffer = held
        }
        exchange.responseInput = nil
        while self.exchange === exchange {
            let event: HTTP1Event<HTTP1ResponseHead>?
            do {
                event = try exchange.responseParser.next(&buffer)
            } catch {
                self.record.responseFlags.insert(.upstreamProtocolError)
                self.failForward(status: 502, reason: "upstream protocol error: \(error.reason)")
                return
            }
            guard let event else {
                exchange.responseInput = buffer.readableBytes > 0 ? buffer : nil
                return
            }
            self.handleResponseEvent(event, exchange: exchange, leftover: buffer.readableBytes)
        }
    }

    private func handleResponseEvent(_ event: HTTP1Event<HTTP1ResponseHead>, exchange: ForwardExchange, leftover: Int) {
        guard let context = self.context else { return }
        switch event {
        case .head(let response):
            if response.status == 101 {
                self.record.responseFlags.insert(.upstreamProtocolError)
                self.failForward(status: 502, reason: "unexpected 101 from upstream")
                return
            }
            var headers = response.headers
            Self.removeHopByHop(&headers)
            var buffer = context.channel.allocator.buffer(capacity: 512)
            if response.status < 200 {
                if exchange.head.minorVersion == 1 {
                    HTTP1Serializer.writeResponseHead(
                        status: response.status, reason: response.reason, headers: headers, into: &buffer)
                    context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
                }
                return
            }
            switch response.framing {
            case .chunked, .untilClose:
                headers.remove("content-length")
                if exchange.head.minorVersion == 1 {
                    headers.add("transfer-encoding", "chunked")
                    exchange.responseChunked = true
                } else {
                    exchange.closeAfter = true
                }
            case .none, .contentLength:
                break
            }
            exchange.upstreamKeepAlive = response.keepAlive
            if exchange.closeAfter || !exchange.head.keepAlive || self.draining || self.worker.services.isDraining {
                exchange.closeAfter = true
                headers.set("connection", "close")
            } else if exchange.head.minorVersion == 0 {
                headers.set("connection", "keep-alive")
            }
            self.record.responseCode = response.status
            exchange.responseStarted = true
            HTTP1Serializer.writeResponseHead(
                status: response.status, reason: response.reason, headers: headers, into: &buffer)
            context.write(self.wrapOutboundOut(buffer), promise: nil)
        case .body(let body):
            self.record.bytesSent += body.readableBytes
            if exchange.responseChunked {
                var framed = context.channel.allocator.buffer(capacity: body.readableBytes + 16)
                HTTP1Serializer.writeChunk(body, into: &framed)
                context.write(self.wrapOutboundOut(framed), promise: nil)
            } else {
                context.write(self.wrapOutboundOut(body), promise: nil)
            }
            if !context.channel.isWritable, let upstream = self.upstream?.channel {
                // Pause first: the flush may make the client writable again at once (and resume reading).
                _ = try? upstream.syncOptions?.setOption(.autoRead, value: false)
                context.flush()
            }
        case .end(let trailers):
            if exchange.responseChunked {
                var last = context.channel.allocator.buffer(capacity: 16)
                HTTP1Serializer.writeLastChunk(trailers: trailers, into: &last)
                context.write(self.wrapOutboundOut(last), promise: nil)
            }
            context.flush()
            // Bytes after a complete response poison the connection (HARDENING §B8 row 4): never reuse it.
            self.responseFinished(exchange, upstreamReusable: leftover == 0)
        }
    }

    private func responseFinished(_ exchange: ForwardExchange, upstreamReusable: Bool) {
        self.record.responseCodeDetails = "via_upstream"
        self.finishAttempt(denied: false)
        self.exchange = nil
        if !upstreamReusable || !exchange.upstreamKeepAlive { self.closeForwardUpstream() }
        let keepClient = !exchange.closeAfter && exchange.head.keepAlive && exchange.requestEnded && !self.draining
            && !self.worker.services.isDraining && !(self.inputClosed && (self.input?.readableBytes ?? 0) == 0)
        guard keepClient, let context = self.context else {
            self.state = .closed
            self.closeForwardUpstream()
            self.closeAfterWrites()
            return
        }
        self.state = .idle
        if exchange.clientReadPaused { _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true) }
        self.setAutoRead(true)
        self.process()
    }

    func upstreamInactive(_ channel: Channel) {
        guard channel === self.upstream?.channel else { return }
        self.upstream = nil
        guard let exchange = self.exchange, exchange.requestSent else { return }
        do {
            if case .end? = try exchange.responseParser.connectionClosed() {
                self.handleResponseEvent(.end(trailers: nil), exchange: exchange, leftover: 0)
                return
            }
        } catch {
            // fall through: truncated response
        }
        if exchange.responseStarted {
            self.record.responseFlags.insert(.upstreamConnectionTermination)
            self.finishAttempt(denied: false)
            self.exchange = nil
            self.state = .closed
            self.context?.close(promise: nil)
        } else {
            self.record.responseFlags.insert(.upstreamConnectionTermination)
            self.failForward(status: 503, reason: "upstream connection closed before the response")
        }
    }

    func upstreamWritabilityChanged(_ channel: Channel) {
        guard channel === self.upstream?.channel, channel.isWritable, let exchange = self.exchange,
            exchange.clientReadPaused
        else { return }
        exchange.clientReadPaused = false
        self.setAutoRead(true)
        if !exchange.readingInput { self.processForwardInput() }
    }

    func downstreamWritabilityChanged(_ writable: Bool) {
        guard writable, let upstream = self.upstream?.channel else { return }
        _ = try? upstream.syncOptions?.setOption(.autoRead, value: true)
    }

    /// Closes once everything written so far has been flushed.
    func closeAfterWrites() {
        guard let context = self.context else { return }
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func flushForwardUpstream() {
        self.upstream?.channel.flush()
    }

    func closeForwardUpstream() {
        self.upstream?.channel.close(promise: nil)
        self.upstream = nil
    }

    /// The client went away mid-exchange: log the attempt and drop the upstream connection.
    func forwardDownstreamClosed() {
        guard self.exchange != nil else { return }
        self.exchange = nil
        self.record.responseFlags.insert(.downstreamConnectionTermination)
        self.finishAttempt(denied: false)
        self.closeForwardUpstream()
    }

    /// An error before (local reply) or after (reset) the response started.
    private func failForward(status: Int, reason: String) {
        guard let exchange = self.exchange else { return }
        self.exchange = nil
        self.closeForwardUpstream()
        if exchange.responseStarted {
            self.record.responseCodeDetails = Self.details(reason)
            self.finishAttempt(denied: false)
            self.state = .closed
            self.context?.close(promise: nil)
        } else {
            self.refuse(status: status, reason: "\(exchange.authority): \(reason)", serviceEntry: self.record.routeName)
        }
    }
}

/// The upstream side of absolute-form forwarding: hands every event to its `ForwardProxyHandler` (same loop).
final class ForwardUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private weak var owner: ForwardProxyHandler?

    init(owner: ForwardProxyHandler) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let owner = self.owner else {
            context.close(promise: nil)
            return
        }
        owner.upstreamRead(self.unwrapInboundIn(data), from: context.channel)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.owner?.context?.flush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.owner?.upstreamInactive(context.channel)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.owner?.upstreamWritabilityChanged(context.channel)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ForwardUpstreamHandler: Sendable {}
