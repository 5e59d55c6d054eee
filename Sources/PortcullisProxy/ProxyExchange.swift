import Foundation
import NIOCore
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

/// One request/response through the gateway (ARCHITECTURE "Life of one request", steps 4–10): normalize, route,
/// answer locally or forward to a load-balanced endpoint with retries and a timeout, stream both bodies with
/// backpressure, then record. Lives on its downstream connection's event loop.
final class ProxyExchange {
    enum Phase {
        case routing
        /// Waiting for an upstream connection (request body is queued).
        case connecting
        /// Request sent or being sent; waiting for the response head.
        case awaitingResponse
        /// Response head written downstream; streaming the body.
        case responding
        case tunneling
        case finished
    }

    unowned let downstream: any DownstreamStream
    let worker: Worker
    let head: DownstreamRequestHead
    let snapshot: GatewaySnapshot?
    let startTime: NIODeadline
    var record = RequestRecord()
    var phase = Phase.routing

    // Routing results.
    var route: Route?
    var destination: WeightedDestination?
    var cluster: Cluster?
    var runtime: ClusterRuntime?
    /// The request as it goes upstream, reused by retries and mirrors.
    var upstreamRequest: UpstreamRequest?
    /// The Host sent upstream (after rewrites), for TLS SNI.
    var upstreamAuthority: String?

    // Request body bookkeeping.
    var requestComplete = false
    var requestTrailers: HTTPHeaderList?
    /// Body parts not yet written upstream (while connecting).
    var queuedBody: [ByteBuffer] = []
    var queuedBytes = 0
    /// Every body part sent so far, kept while small enough that a retry can resend the request.
    var retainedBody: [ByteBuffer]? = []
    var retainedBytes = 0
    var requestBodyBytes = 0

    // Upstream state.
    var connection: (any UpstreamTransport)?
    var connectionWasReused = false
    var endpointIndex: Int?
    var endpointKey: String?
    var triedEndpoints: [Int] = []
    var retriesDone = 0
    var upstreamStart: NIODeadline?
    var timeoutTask: Scheduled<Void>?
    var perTryTask: Scheduled<Void>?

    // Response state.
    var responseStarted = false
    var responseChunked = false
    var responseBodyBytes = 0
    var responseStatus = 0
    var keepAliveAfterResponse = true
    /// The upstream response allows reusing its connection.
    var releaseConnectionOnEnd = true
    /// CORS headers added to the response of an allowed cross-origin request.
    var corsResponseHeaders: [(String, String)] = []
    var mirrorsStarted = false
    var sentContinue = false

    init(downstream: any DownstreamStream, head: DownstreamRequestHead) {
        self.downstream = downstream
        self.worker = downstream.worker
        self.head = head
        self.snapshot = downstream.worker.snapshot
        self.startTime = .now()
    }

    /// Whether the unread rest of the request body is too large to drain after an early response.
    var remainingRequestBodyIsLarge: Bool {
        switch self.head.framing {
        case .none: return false
        case .contentLength(let n): return n - self.requestBodyBytes > 64 * 1024
        case .chunked, .untilClose: return true
        }
    }

    /// Routes the request and starts the chosen action.
    func start() {
        self.fillRecordFromRequest()
        if self.head.isHTTP10 {
            // Istio/Envoy reject HTTP/1.0 with 426 unless enabled (§0 step 3).
            self.keepAliveAfterResponse = false
            self.sendLocalReply(status: 426, body: nil, details: "http1.upgrade_required")
            return
        }
        if self.head.method == "CONNECT" {
            self.keepAliveAfterResponse = false
            self.sendLocalReply(status: 501, body: nil, details: "connect_not_enabled")
            return
        }
        guard let host = self.head.host, !host.isEmpty,
            let (path, query) = RequestView.split(target: self.head.target, form: self.head.targetForm)
        else {
            self.keepAliveAfterResponse = false
            self.record.responseFlags.insert(.downstreamProtocolError)
            self.sendLocalReply(status: 400, body: nil, details: "invalid_path")
            return
        }
        let request = RequestView(
            method: self.head.method, path: path, query: query, scheme: self.downstream.scheme, authority: host,
            headers: self.head.headers)
        guard let snapshot = self.snapshot, let table = self.routeTable(snapshot),
            let vhost = table.virtualHost(forHost: Substring(host))
        else {
            self.record.responseFlags.insert(.noRouteFound)
            if self.snapshot?.config.mesh?.outboundTrafficPolicy == .registryOnly {
                // Mesh REGISTRY_ONLY: an undeclared host gets the sidecar's `block_all` answer (§4.2).
                self.record.egressRefusal = .notInRegistry
                self.sendLocalReply(status: 502, body: nil, details: "registry_only_block_all")
            } else {
                self.sendLocalReply(status: 404, body: nil, details: "route_not_found")
            }
            return
        }
        if vhost.requireTLS && self.downstream.scheme == "http" {
            // httpsRedirect: 301 to https with the Host as sent (§1.4).
            let location = "https://\(host)\(self.head.target.first == "/" ? self.head.target : path)"
            self.sendLocalReply(status: 301, body: nil, details: "https_redirect", extraHeaders: [("location", location)])
            return
        }
        guard let match = vhost.route(for: request) else {
            self.record.responseFlags.insert(.noRouteFound)
            self.sendLocalReply(status: 404, body: nil, details: "route_not_found")
            return
        }
        let route = match.route
        self.route = route
        self.record.routeName = route.name.isEmpty ? nil : route.name
        let matcher = match.matchIndex.map { route.matches[$0] }
        if let cors = route.cors, self.handleCORS(cors) { return }
        switch route.action {
        case .directResponse(let status, let body):
            self.sendLocalReply(
                status: status, body: body, details: "direct_response", responseMutation: route.responseHeaders)
        case .redirect(let redirect):
            let location = redirect.location(
                path: path, query: query, authority: host, scheme: self.downstream.scheme,
                serverPort: self.downstream.listenerPort, matcher: matcher)
            self.sendLocalReply(
                status: redirect.code, body: nil, details: "redirect", extraHeaders: [("location", location)],
                responseMutation: route.responseHeaders)
        case .forward(let forward):
            if let fault = route.fault {
                let proceed = self.applyFault(fault) { [unowned self] in
                    self.forward(forward, route: route, matcher: matcher, path: path, query: query, host: host)
                }
                if !proceed { return }
            }
            self.forward(forward, route: route, matcher: matcher, path: path, query: query, host: host)
        }
    }

    /// The listener's shared table, or on HTTPS the table of the Gateway server the SNI chose (§1.5: a Host that is
    /// only on another server of the port gets 404).
    private func routeTable(_ snapshot: GatewaySnapshot) -> HTTPRouteTable? {
        guard let listener = snapshot.routing.listener(port: self.downstream.listenerPort) else { return nil }
        guard let key = self.downstream.serverKey else { return listener.httpRoutes }
        for chain in listener.filterChains
        where chain.server.gateway == key.gateway && chain.server.index == key.index {
            if case .terminateHTTP(let table) = chain.mode { return table }
        }
        return nil
    }

    private func fillRecordFromRequest() {
        self.record.startTime = Date()
        self.record.method = self.head.method
        self.record.path = self.head.target
        self.record.protocolName = self.head.protocolName
        self.record.authority = self.head.host
        self.record.userAgent = self.head.headers.first("user-agent")
        self.record.downstreamRemoteAddress = self.downstream.remoteAddress
        self.record.downstreamLocalAddress = self.downstream.localAddress
        self.record.requestedServerName = self.downstream.peerTLS?.serverName
        self.record.isGRPC = self.head.isGRPC
    }

    // MARK: Downstream events

    func requestBody(_ body: ByteBuffer) {
        self.requestBodyBytes += body.readableBytes
        switch self.phase {
        case .routing, .connecting:
            self.queuedBody.append(body)
            self.queuedBytes += body.readableBytes
            if self.queuedBytes > self.worker.services.limits.retryBufferBytes { self.downstream.setAutoRead(false) }
        case .awaitingResponse, .responding:
            guard let connection = self.connection else { return }
            self.retain(body)
            self.writeBodyUpstream(body, to: connection)
            if !connection.isWritable { self.downstream.setAutoRead(false) }
        case .tunneling, .finished:
            break
        }
    }

    func requestEnd(_ trailers: HTTPHeaderList?) {
        self.requestComplete = true
        self.requestTrailers = trailers
        if let connection = self.connection, self.phase == .awaitingResponse || self.phase == .responding {
            self.writeEndUpstream(to: connection)
            connection.flush()
            self.startMirrorsOnce()
        }
        self.armRouteTimeout()
        if self.phase == .finished { return }
    }

    func downstreamReadComplete() {
        self.connection?.flush()
    }

    func downstreamWritabilityChanged(_ writable: Bool) {
        self.connection?.setAutoRead(writable)
    }

    /// The client went away before the exchange finished (flag DC).
    func downstreamClosed() {
        guard self.phase != .finished else { return }
        self.record.responseFlags.insert(.downstreamConnectionTermination)
        self.keepAliveAfterResponse = false
        self.dropUpstream()
        self.finish(notifyDownstream: false)
    }

    /// The client left the response stalled on its flow-control window past the flush timeout (HTTP/2).
    func downstreamStalled() {
        guard self.phase != .finished else { return }
        self.record.responseFlags.insert(.streamIdleTimeout)
        self.keepAliveAfterResponse = false
        self.dropUpstream()
        self.finish(notifyDownstream: false)
    }

    /// The rest of the request was malformed after the head went upstream.
    func downstreamProtocolError(_ error: HTTP1ParseError) {
        guard self.phase != .finished else { return }
        self.record.responseFlags.insert(.downstreamProtocolError)
        self.dropUpstream()
        if !self.responseStarted { self.record.responseCode = error.status }
        self.finish(notifyDownstream: false)
    }

    func tunnelFromClient(_ data: ByteBuffer) {
        self.record.bytesReceived += data.readableBytes
        self.connection?.sendTunnel(data)
    }

    // MARK: Local replies and completion

    func startMirrorsOnce() {
        guard !self.mirrorsStarted, self.route?.mirrors.isEmpty == false else { return }
        self.mirrorsStarted = true
        self.startMirrors()
    }

    /// Sends a complete local reply and finishes (ISTIO-SEMANTICS §0.1).
    func sendLocalReply(
        status: Int, body: [UInt8]?, details: String, extraHeaders: [(String, String)] = [],
        responseMutation: HeaderMutation = .empty
    ) {
        var headers = LocalReply.headers(status: status, body: body, extraHeaders: extraHeaders, worker: self.worker)
        HeaderPolicy.apply(responseMutation, to: &headers)
        for (name, value) in self.corsResponseHeaders { headers.set(name, value) }
        if self.record.isGRPC {
            // A gRPC client gets a gRPC error, not an HTTP one (Envoy's local replies for gRPC requests).
            headers = GRPCSupport.localReplyHeaders(status: status, body: body, base: headers)
            self.record.grpcStatus = headers.first("grpc-status").flatMap { Int($0) }
            self.sendReply(status: 200, headers: headers, body: nil, details: details)
            return
        }
        self.sendReply(status: status, headers: headers, body: body, details: details)
    }

    private func sendReply(status: Int, headers: HTTPHeaderList, body: [UInt8]?, details: String) {
        var headers = headers
        if self.downstream.mustCloseAfterResponse(requestKeepAlive: self.head.keepAlive && self.keepAliveAfterResponse)
        {
            self.keepAliveAfterResponse = false
            headers.set("connection", "close")
        }
        let includeBody = self.head.method != "HEAD"
        self.responseStarted = true
        self.responseStatus = status
        self.responseBodyBytes = includeBody ? (body?.count ?? 0) : 0
        self.record.responseCodeDetails = details
        self.downstream.writeLocalReply(status: status, headers: headers, body: body, includeBody: includeBody)
        self.downstream.flush()
        self.finish(notifyDownstream: true)
    }

    func sendLocalReply(status: Int, text: String, details: String, extraHeaders: [(String, String)] = []) {
        self.sendLocalReply(status: status, body: Array(text.utf8), details: details, extraHeaders: extraHeaders)
    }

    /// Ends the exchange: timers, in-flight counts, log and metrics, then hands the connection back.
    func finish(notifyDownstream: Bool) {
        guard self.phase != .finished else { return }
        self.phase = .finished
        self.timeoutTask?.cancel()
        self.timeoutTask = nil
        self.perTryTask?.cancel()
        self.perTryTask = nil
        if let key = self.endpointKey, let cluster = self.cluster {
            self.worker.requestEnded(endpointKey: key, cluster: cluster.name)
        }
        self.record.responseCode = self.responseStatus
        self.record.bytesReceived += self.requestBodyBytes
        self.record.bytesSent = self.responseBodyBytes
        self.record.durationMs = Int((NIODeadline.now() - self.startTime).nanoseconds / 1_000_000)
        let services = self.worker.services
        services.metrics.record(self.record)
        services.accessLog.log(self.record)
        if notifyDownstream {
            self.downstream.exchangeFinished(self, keepAlive: self.keepAliveAfterResponse)
        }
    }
}

@available(*, unavailable)
extension ProxyExchange: Sendable {}
