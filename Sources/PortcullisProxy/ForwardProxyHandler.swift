import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisObservability
import PortcullisRouting
import PortcullisTLS
import Synchronization

/// One connection on a `ForwardProxy` listener (issue 5, "Forward-proxy mode"; HARDENING §B7): explicit proxy
/// traffic from clients configured with `HTTP_PROXY`/`HTTPS_PROXY`.
///
/// - `CONNECT host:port` (RFC 9110 §9.3.6): the target must be in the egress allow-list (`EgressAllowList`, host
///   **and** port), every resolved address must be public unless listed in `allowedPrivateCIDRs` (checked on
///   every connect: DNS rebinding, §B7 row 7), then `200 Connection Established`. If the client's first bytes are a
///   TLS ClientHello its SNI must equal the CONNECT host (domain fronting, §B7 row 2); then the bytes are spliced.
/// - absolute-form `GET http://host[:port]/path` (RFC 9112 §3.2.2): authorised on the request-target authority,
///   never on the Host field (§B7 row 6), forwarded in origin-form over one upstream connection per client
///   connection and target, without following redirects (§B7 row 8). See `ForwardProxyHandler+Forward.swift`.
/// - anything else (origin-form, `*`) → 400.
///
/// Refusals answer 403 with a `text/plain` body naming the rule and close the connection. Every attempt writes one
/// access-log line and increments `portcullis_egress_attempts_total{mode="forward_proxy", result, service_entry,
/// reason}`; the requested host is never a label (STYLE.md rule 12).
final class ForwardProxyHandler: ChannelInboundHandler, RemovableChannelHandler, DownstreamConnectionHandle {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        /// Waiting for (or reading) a request head.
        case idle
        /// CONNECT allowed: resolving and connecting; client bytes are held.
        case connecting
        /// Tunnel established: waiting for the client's first bytes (the ClientHello).
        case peeking(upstream: Channel)
        /// An absolute-form request is being forwarded (`ForwardExchange`).
        case forwarding
        case closed
    }

    let worker: Worker
    let policy: ForwardProxyPolicy
    var state = State.idle
    var context: ChannelHandlerContext?
    var parser = HTTP1RequestParser()
    /// Received bytes not yet parsed (or, once a tunnel is set up, not yet sent upstream).
    var input: ByteBuffer?
    var record = RequestRecord()
    var remoteAddress = "-"
    var localAddress = "-"
    var listenerPort: Int { self.context?.channel.localAddress?.port ?? 0 }
    var draining = false
    /// The client half-closed: no request follows the current one.
    var inputClosed = false
    /// Start of the current attempt, for `%DURATION%`.
    var attemptStart = NIODeadline.now()
    /// The absolute-form exchange in progress.
    var exchange: ForwardExchange?
    /// The kept-alive upstream connection of absolute-form requests and its `host:port` (lower-cased).
    var upstream: (channel: Channel, target: String)?
    private var helloTimer: Scheduled<Void>?
    /// The CONNECT target's host (lower-cased name or canonical address) for the SNI check.
    private var connectHost = ""
    private var connectIsLiteral = false
    /// The allow-list of the snapshot this connection started its current attempt with.
    var allowList: EgressAllowList { self.policy.allowList(for: self.worker.snapshot) }

    /// Connect timeout (Istio's default `connectTimeout`, 10 s).
    static let connectTimeout = TimeAmount.seconds(10)
    /// Time allowed for the first tunnel bytes after `200 Connection Established`.
    static let helloTimeout = TimeAmount.seconds(15)
    /// Bytes held while connecting or peeking before reading pauses.
    static let maxHeldBytes = 64 * 1024

    init(worker: Worker, policy: ForwardProxyPolicy) {
        self.worker = worker
        self.policy = policy
    }

    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }

    func setAutoRead(_ on: Bool) {
        _ = try? self.context?.channel.syncOptions?.setOption(.autoRead, value: on)
    }

    /// Drain (SIGTERM): idle connections close now, a forwarded request finishes first; tunnels are left alone.
    func drain() {
        self.draining = true
        if case .idle = self.state, self.parser.isIdle { self.context?.close(promise: nil) }
    }
}

// MARK: - Channel events

extension ForwardProxyHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.activate(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.activate(context: context)
        context.fireChannelActive()
    }

    private func activate(context: ChannelHandlerContext) {
        self.remoteAddress = context.channel.remoteAddress.map(UpstreamConnection.format) ?? "-"
        self.localAddress = context.channel.localAddress.map(UpstreamConnection.format) ?? "-"
        self.worker.register(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.helloTimer?.cancel()
        self.worker.unregister(self)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        let previous = self.state
        self.state = .closed
        self.helloTimer?.cancel()
        self.worker.unregister(self)
        switch previous {
        case .peeking(let upstream):
            upstream.close(promise: nil)
            self.record.responseFlags.insert(.downstreamConnectionTermination)
            self.finishAttempt(denied: false)
        case .forwarding:
            self.forwardDownstreamClosed()
        case .connecting:
            self.record.responseFlags.insert(.downstreamConnectionTermination)
        case .idle, .closed:
            break
        }
        self.closeForwardUpstream()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        if case .closed = self.state { return }
        if var existing = self.input, existing.readableBytes > 0 {
            existing.writeBuffer(&buffer)
            self.input = existing
        } else {
            self.input = buffer
        }
        self.process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushForwardUpstream()
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.downstreamWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            self.inputClosed = true
            switch self.state {
            case .idle, .connecting, .peeking: context.close(promise: nil)
            case .forwarding, .closed: break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Runs the state machine over the held input.
    func process() {
        switch self.state {
        case .idle:
            self.readHead()
        case .forwarding:
            self.processForwardInput()
        case .peeking(let upstream):
            self.peekHello(upstream: upstream)
        case .connecting:
            if (self.input?.readableBytes ?? 0) > Self.maxHeldBytes { self.setAutoRead(false) }
        case .closed:
            break
        }
    }

    private func readHead() {
        guard var buffer = self.input else { return }
        let event: HTTP1Event<HTTP1RequestHead>?
        do {
            event = try self.parser.next(&buffer)
        } catch {
            self.input = nil
            self.startRecord(method: "-", target: "-", authority: nil)
            self.record.responseFlags.insert(.downstreamProtocolError)
            self.refuse(status: error.status, reason: "http1.codec_error: \(error.reason)", serviceEntry: nil,
                        countAsAttempt: false)
            return
        }
        self.input = buffer.readableBytes > 0 ? buffer : nil
        guard case .head(let head)? = event else { return }
        self.startRecord(method: head.method, target: head.target, authority: nil)
        switch head.targetForm {
        case .authority:
            self.startConnect(head)
        case .absolute(let scheme, let authority):
            self.record.authority = authority
            guard scheme == "http" else {
                self.refuse(status: 400, reason: "absolute-form https is not supported: use CONNECT",
                            serviceEntry: nil, countAsAttempt: false)
                return
            }
            self.startForward(head, authority: authority)
        case .origin, .asterisk:
            self.record.authority = head.host
            self.refuse(status: 400, reason: "not a proxy request: use absolute-form or CONNECT", serviceEntry: nil,
                        countAsAttempt: false)
        }
    }

    func startRecord(method: String, target: String, authority: String?) {
        self.record = RequestRecord()
        self.record.startTime = .init()
        self.attemptStart = .now()
        self.record.method = method
        self.record.path = target
        self.record.authority = authority
        self.record.protocolName = "HTTP/1.1"
        self.record.downstreamRemoteAddress = self.remoteAddress
        self.record.downstreamLocalAddress = self.localAddress
    }
}

// MARK: - Policy checks shared by CONNECT and absolute-form

extension ForwardProxyHandler {
    /// `host:port` of an authority (`[v6]:port` keeps its brackets in `host`); nil when malformed.
    static func splitAuthority(_ authority: String, defaultPort: Int?) -> (host: String, port: Int)? {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[...close])
            let rest = authority[authority.index(after: close)...]
            if rest.isEmpty { return defaultPort.map { (host, $0) } }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else { return nil }
            return (host, port)
        }
        guard let colon = authority.lastIndex(of: ":") else { return defaultPort.map { (authority, $0) } }
        guard let port = Int(authority[authority.index(after: colon)...]) else { return nil }
        return (String(authority[..<colon]), port)
    }

    /// Resolves `host` off the event loop (literals need no lookup), refuses any non-public answer not allowed by
    /// `allowedPrivateCIDRs`, and connects to the addresses in turn (starting at a random one, at most three tries).
    /// `done` runs on the loop with the connected channel, or the status, flags and reason of the failure.
    func resolveAndConnect(
        host: String, port: Int, autoRead: Bool, initializer: @escaping @Sendable (Channel) throws -> Void,
        done: @escaping (Result<Channel, ForwardProxyFailure>) -> Void
    ) {
        let loop = self.worker.eventLoop
        let parsed: EgressHost
        switch EgressHost.parse(host) {
        case .success(let value): parsed = value
        case .failure(let problem):
            done(.failure(ForwardProxyFailure(
                status: 403, flags: .noRouteFound, reason: problem.reason,
                refusal: problem.isAddressLike ? .ipLiteral : .notInAllowList)))
            return
        }
        let checkAndConnect: ([SocketAddress], Bool) -> Void = { addresses, listedLiteral in
            if let refusal = self.privateRefusal(addresses, host: host, listedLiteral: listedLiteral) {
                done(.failure(ForwardProxyFailure(
                    status: 403, flags: .noRouteFound, reason: refusal, refusal: .privateAddress)))
                return
            }
            let start = addresses.isEmpty ? 0 : Int(self.worker.random.next() % UInt64(addresses.count))
            let order = Array(addresses[start...] + addresses[..<start]).prefix(3)
            self.connect(Array(order), autoRead: autoRead, initializer: initializer, lastError: nil, done: done)
        }
        switch parsed {
        case .address(let address):
            guard let socket = try? SocketAddress(ipAddress: Self.socketText(address), port: port) else {
                done(.failure(ForwardProxyFailure(
                    status: 403, flags: .noRouteFound, reason: "bad address", refusal: .ipLiteral)))
                return
            }
            checkAndConnect([socket], self.allowList.listsExactly(address))
        case .name(let name):
            self.worker.services.dns.resolve(host: name, port: port, on: loop).assumeIsolated().whenComplete {
                result in
                switch result {
                case .success(let addresses) where !addresses.isEmpty:
                    checkAndConnect(addresses, false)
                case .success:
                    done(.failure(ForwardProxyFailure(
                        status: 503, flags: .dnsResolutionFailed, reason: "dns resolution of \(name) failed")))
                case .failure(let error):
                    done(.failure(ForwardProxyFailure(status: 503, flags: .dnsResolutionFailed, reason: "\(error)")))
                }
            }
        }
    }

    /// The reason to refuse `addresses`, or nil when every one is public or allowed (HARDENING §B7 rows 1, 7).
    /// An IP literal that a ServiceEntry lists as that exact address is an explicit allowance.
    private func privateRefusal(_ addresses: [SocketAddress], host: String, listedLiteral: Bool) -> String? {
        if listedLiteral { return nil }
        for socket in addresses {
            guard let text = socket.ipAddress,
                let address = EgressIPAddress(ipv4: text) ?? EgressIPAddress(ipv6: text)
            else { return "\(host) resolved to an address that is not IP" }
            if address.isNonPublic && !self.policy.allowedPrivate.contains(where: { $0.contains(address) }) {
                return "\(host) resolves to \(address), a loopback/link-local/private address not in "
                    + "allowedPrivateCIDRs"
            }
        }
        return nil
    }

    private static func socketText(_ address: EgressIPAddress) -> String {
        address.isIPv4 ? address.description : String(address.description.dropFirst().dropLast())
    }

    private func connect(
        _ addresses: [SocketAddress], autoRead: Bool, initializer: @escaping @Sendable (Channel) throws -> Void,
        lastError: String?, done: @escaping (Result<Channel, ForwardProxyFailure>) -> Void
    ) {
        guard let address = addresses.first else {
            done(.failure(ForwardProxyFailure(
                status: 503, flags: .upstreamConnectionFailure, reason: lastError ?? "no address")))
            return
        }
        self.record.upstreamHost = UpstreamConnection.format(address)
        ClientBootstrap(group: self.worker.eventLoop)
            .connectTimeout(Self.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: autoRead)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            // Bulk downloads through a tunnel: read up to 1 MiB per syscall instead of NIO's 64 KiB ceiling.
            .channelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 16384, maximum: 1 << 20))
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try initializer(channel) }
            }
            .connect(to: address).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    done(.success(channel))
                case .failure(let error):
                    self.connect(
                        Array(addresses.dropFirst()), autoRead: autoRead, initializer: initializer,
                        lastError: "\(error)", done: done)
                }
            }
    }

    /// Answers a refused or failed attempt with `status` and a `text/plain` body naming the rule, logs it and
    /// closes the connection (HARDENING §B7: 403 and a body that names the rule).
    func refuse(
        status: Int, reason: String, serviceEntry: String?, refusal: EgressRefusal? = nil, countAsAttempt: Bool = true
    ) {
        self.state = .closed
        self.record.egressRefusal = status == 403 ? (refusal ?? .notInAllowList) : nil
        self.record.responseCode = status
        self.record.responseCodeDetails = Self.details(reason)
        self.record.routeName = serviceEntry
        if status == 403 && self.record.responseFlags.isEmpty { self.record.responseFlags.insert(.noRouteFound) }
        let prefix = status == 403 ? "egress denied" : (status == 400 ? "bad proxy request" : "egress failed")
        let body = Array("\(prefix): \(reason)\n".utf8)
        let reply = LocalReply.render(
            status: status, body: body, extraHeaders: [("connection", "close")], worker: self.worker,
            allocator: self.allocator)
        if countAsAttempt {
            self.finishAttempt(denied: status == 403)
        } else {
            self.worker.services.accessLog.log(self.record)
        }
        guard let context = self.context else { return }
        context.writeAndFlush(self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The metric reason for a host the allow-list refused.
    static func refusal(forDenied host: String) -> EgressRefusal {
        EgressAllowList.isAddressLike(host) ? .ipLiteral : .notInAllowList
    }

    /// `%RESPONSE_CODE_DETAILS%` carries no whitespace (Envoy replaces it with `_`), so text logs stay splittable.
    static func details(_ text: String) -> String {
        String(text.map { $0 == " " || $0 == "\t" ? "_" : $0 })
    }

    /// Writes the attempt's access-log line and counts it (`portcullis_egress_attempts_total`): allowed by the
    /// ServiceEntry in `routeName`, or denied for `record.egressRefusal`.
    func finishAttempt(denied: Bool) {
        self.record.durationMs = Int((NIODeadline.now() - self.attemptStart).nanoseconds / 1_000_000)
        if denied {
            if self.record.egressRefusal == nil { self.record.egressRefusal = .notInAllowList }
            self.record.serviceEntry = nil
        } else {
            self.record.egressRefusal = nil
            self.record.serviceEntry = self.record.routeName
        }
        self.worker.services.accessLog.log(self.record)
        self.worker.services.metrics.recordEgress(self.record, mode: .forwardProxy)
    }
}

// MARK: - CONNECT

extension ForwardProxyHandler {
    private func startConnect(_ head: HTTP1RequestHead) {
        self.record.authority = head.target
        guard head.framing == .none else {
            self.refuse(status: 400, reason: "CONNECT with a body", serviceEntry: nil, countAsAttempt: false)
            return
        }
        // Consume the (empty) end of the CONNECT message; what follows is tunnel data.
        if var buffer = self.input {
            _ = try? self.parser.next(&buffer)
            self.input = buffer.readableBytes > 0 ? buffer : nil
        } else {
            var empty = ByteBuffer()
            _ = try? self.parser.next(&empty)
        }
        guard let (host, port) = Self.splitAuthority(head.target, defaultPort: nil) else {
            self.refuse(status: 400, reason: "invalid CONNECT target", serviceEntry: nil, countAsAttempt: false)
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
        switch EgressHost.parse(host) {
        case .success(.name(let name)):
            self.connectHost = name
            self.connectIsLiteral = false
        case .success(.address(let address)):
            self.connectHost = address.description
            self.connectIsLiteral = true
        case .failure:
            break  // decide() already refused it
        }
        self.state = .connecting
        self.resolveAndConnect(host: host, port: port, autoRead: false, initializer: { _ in }) { result in
            switch result {
            case .failure(let failure):
                guard case .connecting = self.state else { return }
                self.record.responseFlags.insert(failure.flags)
                if failure.status != 403 { self.record.upstreamTransportFailureReason = failure.reason }
                self.refuse(status: failure.status, reason: "\(head.target): \(failure.reason)",
                            serviceEntry: serviceEntry, refusal: failure.refusal)
            case .success(let upstream):
                self.tunnelEstablished(upstream)
            }
        }
    }

    private func tunnelEstablished(_ upstream: Channel) {
        guard case .connecting = self.state, let context = self.context else {
            upstream.close(promise: nil)
            return
        }
        self.record.upstreamLocalAddress = upstream.localAddress.map(UpstreamConnection.format)
        self.record.responseCode = 200
        self.record.responseCodeDetails = "via_upstream"
        self.state = .peeking(upstream: upstream)
        var reply = context.channel.allocator.buffer(capacity: 64)
        reply.writeStaticString("HTTP/1.1 200 Connection Established\r\n\r\n")
        context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.helloTimer = self.worker.eventLoop.scheduleTask(in: Self.helloTimeout) {
            let handler = bound.value
            guard case .peeking = handler.state else { return }
            handler.record.responseFlags.insert(.streamIdleTimeout)
            handler.record.connectionTerminationDetails = "no tunnel data within the hello timeout"
            handler.context?.close(promise: nil)
        }
        self.setAutoRead(true)
        self.process()
    }

    /// The first tunnel bytes: a ClientHello's SNI must name the CONNECT host (HARDENING §B7 row 2,
    /// gh-aw-firewall#8878); other protocols pass as they are.
    private func peekHello(upstream: Channel) {
        guard let buffer = self.input, buffer.readableBytes > 0 else { return }
        switch ClientHelloParser.parse(buffer) {
        case .needMore:
            if buffer.readableBytes > ClientHelloParser.maximumLength + 5 { self.closeTunnel(reason: "oversized") }
        case .notTLS:
            self.splice(upstream: upstream)
        case .hello(let serverName, _):
            self.record.requestedServerName = serverName
            if let serverName {
                let sni = EgressAllowList.normalizedName(serverName)
                guard sni == self.connectHost else {
                    self.closeTunnel(reason: "SNI \(serverName) does not match the CONNECT host \(self.connectHost)")
                    return
                }
            } else if !self.connectIsLiteral {
                self.closeTunnel(reason: "ClientHello without SNI in a tunnel to \(self.connectHost)")
                return
            }
            self.splice(upstream: upstream)
        }
    }

    private func closeTunnel(reason: String) {
        guard case .peeking(let upstream) = self.state else { return }
        self.state = .closed
        self.helloTimer?.cancel()
        upstream.close(promise: nil)
        self.record.responseCodeDetails = Self.details("egress_denied: \(reason)")
        self.record.connectionTerminationDetails = reason
        self.record.responseFlags.insert(.noRouteFound)
        self.record.egressRefusal = .sniMismatch
        self.finishAttempt(denied: true)
        self.context?.close(promise: nil)
    }

    /// Moves the held bytes upstream and replaces this handler with a `GlueHandler` pair (as `TCPProxySession`).
    private func splice(upstream: Channel) {
        guard let context = self.context else { return }
        self.helloTimer?.cancel()
        guard upstream.isActive else {
            self.state = .closed
            self.record.responseFlags.insert(.upstreamConnectionTermination)
            self.finishAttempt(denied: false)
            context.close(promise: nil)
            return
        }
        self.state = .closed
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
        let held = self.input
        self.input = nil
        let heldBytes = held?.readableBytes ?? 0
        self.record.serviceEntry = self.record.routeName
        self.record.egressRefusal = nil
        var record = self.record
        let services = self.worker.services
        let start = self.attemptStart
        downstreamGlue.onClose = { [downstreamGlue, upstreamGlue] in
            record.bytesReceived = downstreamGlue.bytesIn + heldBytes
            record.bytesSent = upstreamGlue.bytesIn
            record.durationMs = Int((NIODeadline.now() - start).nanoseconds / 1_000_000)
            services.accessLog.log(record)
            services.metrics.recordEgress(record, mode: .forwardProxy)
        }
        do {
            try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
            if let held { upstream.writeAndFlush(held, promise: nil) }
            try context.pipeline.syncOperations.addHandler(downstreamGlue, position: .after(self))
            downstreamGlue.track(
                worker: self.worker, listenerPort: self.listenerPort,
                idleTimeout: self.worker.services.limits.tunnelIdleTimeout)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            _ = try? upstream.syncOptions?.setOption(.autoRead, value: true)
            _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }
}

/// Why a resolve/connect failed: the status to answer, the response flag and a reason for the log and body.
struct ForwardProxyFailure: Error {
    var status: Int
    var flags: ResponseFlags
    var reason: String
    /// Set for policy refusals (403).
    var refusal: EgressRefusal? = nil
}

/// One forward-proxy listener's policy: its non-public allowances and the gateway namespace whose visible
/// ServiceEntries form the allow-list. The allow-list is compiled once per snapshot version and shared by every
/// loop (a small locked cache), so a connection never compiles it.
public final class ForwardProxyPolicy: Sendable {
    let allowedPrivate: [EgressIPRange]
    let gatewayNamespace: String
    private let cache = Mutex<(version: String, list: EgressAllowList)?>(nil)

    /// `allowedPrivate`: IPs or CIDRs (invalid entries are ignored; the decoder already rejects them).
    public init(allowedPrivate: [String], gatewayNamespace: String) {
        self.allowedPrivate = allowedPrivate.compactMap(EgressIPRange.init)
        self.gatewayNamespace = gatewayNamespace
    }

    /// The allow-list of `snapshot` (empty, denying everything, before the first snapshot).
    func allowList(for snapshot: GatewaySnapshot?) -> EgressAllowList {
        guard let snapshot else { return EgressAllowList.compile(ConfigSet(), gatewayNamespace: "") }
        if let cached = self.cache.withLock({ $0 }), cached.version == snapshot.version { return cached.list }
        let list = EgressAllowList.compile(snapshot.config, gatewayNamespace: self.gatewayNamespace)
        self.cache.withLock { $0 = (snapshot.version, list) }
        return list
    }
}

@available(*, unavailable)
extension ForwardProxyHandler: Sendable {}

/// Creates forward-proxy connection handlers for the server's channel initializers.
public enum ForwardProxyHandlerFactory {
    /// A handler for one accepted connection; `allowedPrivate` are the ForwardProxy's `allowedPrivateCIDRs`.
    public static func make(
        worker: Worker, allowedPrivate: [String], gatewayNamespace: String = "istio-system"
    ) -> any ChannelHandler {
        let policy = ForwardProxyPolicy(allowedPrivate: allowedPrivate, gatewayNamespace: gatewayNamespace)
        return ForwardProxyHandler(worker: worker, policy: policy)
    }

    /// The same with a policy shared by the listener's connections (its allow-list cache is shared too).
    public static func make(worker: Worker, policy: ForwardProxyPolicy) -> any ChannelHandler {
        ForwardProxyHandler(worker: worker, policy: policy)
    }
}
