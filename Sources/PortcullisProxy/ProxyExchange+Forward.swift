import NIOCore
import PortcullisTLS
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

extension ProxyExchange {
    /// Picks the destination and cluster, builds the upstream request head and starts the first attempt.
    func forward(
        _ forward: ForwardAction, route: Route, matcher: RouteMatcher?, path: String, query: Substring?, host: String
    ) {
        let destination = forward.pick(self.worker.random.next())
        self.destination = destination
        self.record.destinationVersion = destination.cluster.subset
        self.record.destinationService = destination.cluster.host
        guard let snapshot = self.snapshot, let cluster = snapshot.clusters[destination.cluster] else {
            self.record.upstreamCluster = destination.cluster.description
            self.record.responseFlags.insert(.noClusterFound)
            self.record.egressRefusal = .noServiceEntry
            self.sendLocalReply(status: 503, body: nil, details: "cluster_not_found")
            return
        }
        self.cluster = cluster
        if cluster.location == .meshExternal { self.record.serviceEntry = cluster.serviceEntry }
        let runtime = self.worker.runtime(for: cluster)
        self.runtime = runtime
        self.record.upstreamCluster = cluster.name
        self.record.destinationServiceName = runtime.serviceName
        self.record.destinationServiceNamespace = runtime.serviceNamespace
        if cluster.endpoints.isEmpty {
            self.record.responseFlags.insert(.noHealthyUpstream)
            self.sendLocalReply(status: 503, text: LocalReply.noHealthyUpstream, details: "no_healthy_upstream")
            return
        }
        if self.worker.activeRequests(cluster: cluster.name) >= cluster.limits.maxRequests {
            self.record.responseFlags.insert(.upstreamOverflow)
            self.sendLocalReply(
                status: 503, text: LocalReply.overflow, details: "upstream_reset_before_response_started{overflow}",
                extraHeaders: [("x-envoy-overloaded", "true")])
            return
        }

        // Path and authority after rewrite (§2.6); the query string is kept.
        var upstreamPath = path
        var authority = host
        if let rewrite = (forward.rewrite) {
            upstreamPath = rewrite.rewritePath(path, matcher: matcher)
            if let newAuthority = rewrite.authority { authority = newAuthority }
        }
        if forward.rewrite?.authority == nil, let destinationAuthority = destination.authority {
            authority = destinationAuthority
        }
        if let query { upstreamPath += "?" + query }
        self.upstreamAuthority = authority

        var headers = self.upstreamRequestHeaders(authority: authority)
        // Single destination: route-level first, destination-level after; weighted: the other way round (§2.4).
        if forward.destinations.count == 1 {
            HeaderPolicy.apply(route.requestHeaders, to: &headers)
            HeaderPolicy.apply(destination.requestHeaders, to: &headers)
        } else {
            HeaderPolicy.apply(destination.requestHeaders, to: &headers)
            HeaderPolicy.apply(route.requestHeaders, to: &headers)
        }
        var chunked = false
        switch self.head.framing {
        case .contentLength(let n):
            headers.add("content-length", String(n))
        case .chunked:
            headers.add("transfer-encoding", "chunked")
            chunked = true
        case .none, .untilClose:
            if self.head.method == "POST" || self.head.method == "PUT" { headers.add("content-length", "0") }
        }
        // `Expect: 100-continue` is proxied, as Istio's gateways do (ENABLE_100_CONTINUE_HEADERS): the upstream's
        // 100 is relayed (`upstreamInformational`), so the client sends its body only once the upstream wants it.
        if self.head.expectContinue { headers.add("expect", "100-continue") }
        self.upstreamRequest = UpstreamRequest(
            method: self.head.method, path: upstreamPath, authority: authority,
            scheme: self.snapshot?.tls.clusters[cluster.name] == nil ? "http" : "https", headers: headers,
            chunked: chunked, acceptsTrailers: self.head.acceptsTrailers)
        self.phase = .connecting
        self.attempt()
    }

    /// The request headers sent upstream: the client's minus hop-by-hop and `x-envoy-*`, with Host first,
    /// `x-forwarded-for` appended, `x-forwarded-proto` and `x-request-id` set (§2.4, §8.10).
    private func upstreamRequestHeaders(authority: String) -> HTTPHeaderList {
        var headers = HTTPHeaderList()
        headers.add("host", authority)
        let connectionTokens = HeaderPolicy.connectionTokens(self.head.headers)
        var forwardedFor: String?
        var requestID: String?
        for index in 0..<self.head.headers.count {
            let (name, value) = self.head.headers[index]
            switch HeaderPolicy.requestRole(name) {
            case .drop:
                continue
            case .forwardedFor:
                forwardedFor = forwardedFor.map { $0 + "," + value } ?? value
            case .requestID:
                // Envoy keeps an internal caller's id and replaces an external one (§8.10).
                if requestID == nil && HeaderPolicy.isInternal(self.downstream.remoteIP) { requestID = value }
            case .forward:
                if !connectionTokens.isEmpty && connectionTokens.contains(name.lowercased()) { continue }
                headers.add(name, value)
            }
        }
        let peer = self.downstream.remoteIP
        let xff = forwardedFor.map { "\($0),\(peer)" } ?? peer
        headers.add("x-forwarded-for", xff)
        headers.add("x-forwarded-proto", self.downstream.scheme)
        let id = requestID ?? RequestID.make(&self.worker.random)
        headers.add("x-request-id", id)
        self.record.xForwardedFor = forwardedFor
        self.record.requestId = id
        if let xfcc = Self.clientCertDetails(self.downstream.peerTLS) {
            headers.add("x-forwarded-client-cert", xfcc)
        }
        if self.head.isUpgrade, let upgrade = self.head.headers.first("upgrade") {
            headers.add("connection", "upgrade")
            headers.add("upgrade", upgrade)
        }
        return headers
    }

    /// `x-forwarded-client-cert` for a client that presented a certificate (Envoy's SANITIZE_SET with Istio's
    /// gateway defaults: `Hash`, `Subject`, `URI` and `DNS`).
    static func clientCertDetails(_ handshake: TLSHandshakeCompleted?) -> String? {
        guard let pem = handshake?.peerCertificatePEM, let summary = PeerCertificateSummary(pem: pem) else {
            return nil
        }
        var parts = ["Hash=\(summary.sha256Hex)", "Subject=\"\(summary.subject.replacingQuotes)\""]
        for san in handshake?.peerCertificateSubjectAltNames ?? [] {
            parts.append(san.contains("://") ? "URI=\(san)" : "DNS=\(san)")
        }
        return parts.joined(separator: ";")
    }

    /// DestinationRule TLS origination for `cluster` (§3.5): the client context of the snapshot (offering `h2`
    /// by ALPN for HTTP/2) and the SNI (`tls.sni`, else the upstream Host without its port, which is also what
    /// the certificate is checked against when no `subjectAltNames` are given).
    func upstreamTLS(cluster: Cluster, http2: Bool) -> (context: TLSContext, serverName: String?)? {
        guard let context = self.snapshot?.tls.context(cluster: cluster.name, http2: http2) else { return nil }
        if let sni = cluster.tls?.sni { return (context, sni) }
        let host = self.upstreamAuthority.map { authority -> String in
            // SNI carries a bare name: drop the port, and the brackets of an IPv6 literal.
            var host = Authority.host(Substring(authority))
            if host.first == "[", host.last == "]" { host = host.dropFirst().dropLast() }
            return String(host)
        }
        return (context, host)
    }

    /// The HTTP version spoken upstream (§3.3): the cluster's (port protocol, `h2UpgradePolicy`), or the
    /// client's with `useClientProtocol`; upgrades (WebSocket) always go over HTTP/1.1.
    func speaksHTTP2(_ cluster: Cluster) -> Bool {
        if self.head.isUpgrade { return false }
        if cluster.useClientProtocol { return self.head.protocolName == "HTTP/2" }
        return cluster.upstreamProtocol == .http2
    }

    /// One attempt: pick an endpoint, reuse an idle connection (or a free HTTP/2 stream) or open one.
    func attempt() {
        guard let cluster = self.cluster, let runtime = self.runtime, self.phase == .connecting else { return }
        let keys = runtime.endpointKeys
        let worker = self.worker
        let tried = self.triedEndpoints
        let outlier = runtime.outlier
        let now = NIODeadline.now()
        guard
            let index = runtime.balancer.pick(
                active: { worker.activeRequests(endpointKey: keys[$0]) },
                ejected: { outlier?.isEjected($0, now: now) ?? false },
                tried: { tried.contains($0) })
        else {
            self.record.responseFlags.insert(.noHealthyUpstream)
            self.sendLocalReply(status: 503, text: LocalReply.noHealthyUpstream, details: "no_healthy_upstream")
            return
        }
        let key = keys[index]
        self.endpointIndex = index
        self.endpointKey = key
        self.worker.requestStarted(endpointKey: key, cluster: cluster.name)
        self.upstreamStart = .now()
        self.record.upstreamHost = key
        let http2 = self.speaksHTTP2(cluster)
        let target = UpstreamTarget(
            runtime: runtime, endpointIndex: index, tls: self.upstreamTLS(cluster: cluster, http2: http2),
            http2: http2)
        self.worker.acquireUpstream(target) { result in
            self.acquired(result, endpointKey: key)
        }
    }

    /// The outcome of `Worker.acquireUpstream` for the attempt on `endpointKey`.
    func acquired(
        _ result: Result<(transport: any UpstreamTransport, reused: Bool), UpstreamAcquireError>, endpointKey key: String
    ) {
        switch result {
        case .success(let (transport, reused)):
            guard self.phase == .connecting, self.endpointKey == key else {
                // The exchange gave up meanwhile; a fresh connection stays for others.
                transport.complete(reusable: true, idleTimeout: .seconds(self.runtime?.idleTimeoutSeconds ?? 60))
                return
            }
            self.attach(transport, reused: reused)
        case .failure(.overflow):
            guard self.phase == .connecting else { return }
            self.record.responseFlags.insert(.upstreamOverflow)
            self.sendLocalReply(
                status: 503, text: LocalReply.overflow, details: "upstream_reset_before_response_started{overflow}",
                extraHeaders: [("x-envoy-overloaded", "true")])
        case .failure(.connectFailed(let reason)):
            self.connectFailed(reason: reason)
        }
    }

    /// Connect failure: retry on another endpoint while the policy allows (`connect-failure`), else 503 UF.
    func connectFailed(reason: String) {
        guard self.phase == .connecting else { return }
        self.recordOutlier(.connectFailure)
        if let key = self.endpointKey, let cluster = self.cluster {
            self.worker.requestEnded(endpointKey: key, cluster: cluster.name)
        }
        self.endpointKey = nil
        if let index = self.endpointIndex { self.triedEndpoints.append(index) }
        self.record.upstreamTransportFailureReason = reason
        let policy = self.route?.retry
        if let policy, policy.retryOnConnectFailure, self.retriesDone < policy.attempts {
            self.retriesDone += 1
            self.scheduleRetry()
            return
        }
        self.record.responseFlags.insert(.upstreamConnectionFailure)
        if self.retriesDone > 0 { self.record.responseFlags.insert(.upstreamRetryLimitExceeded) }
        self.sendLocalReply(
            status: 503, text: LocalReply.connectFailure,
            details: "upstream_reset_before_response_started{connection_failure}")
    }

    /// Feeds passive health checking (outlier detection) for the current endpoint.
    func recordOutlier(_ outcome: OutlierTracker.Outcome) {
        guard let tracker = self.runtime?.outlier, let index = self.endpointIndex else { return }
        tracker.record(outcome, endpoint: index, now: .now())
    }

    /// Envoy's retry back-off: 25 ms base, exponential with full jitter, capped at 10× the base.
    func scheduleRetry() {
        if let cluster = self.cluster, self.triedEndpoints.count >= cluster.endpoints.count {
            // Every endpoint was tried: allow them all again (previous-hosts is a preference, not a ban).
            self.triedEndpoints.removeAll()
        }
        let cap = min(250, 25 * (1 << min(self.retriesDone, 4)))
        let delay = TimeAmount.milliseconds(Int64.random(in: 0...Int64(cap)))
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.worker.eventLoop.scheduleTask(in: delay) { bound.value.attempt() }
    }

    /// `grpc-timeout` of a gRPC request, honoured uncapped when the route has no timeout (ISTIO-SEMANTICS §2
    /// `timeout`: Istio's route timeout 0 lets the gRPC deadline apply).
    var grpcTimeout: Duration? {
        guard self.record.isGRPC, let value = self.head.headers.first("grpc-timeout") else { return nil }
        return GRPCSupport.timeout(value)
    }

    /// Starts the route timeout (Envoy starts it once the downstream request is complete).
    func armRouteTimeout() {
        guard self.timeoutTask == nil, self.phase != .finished, self.phase != .routing,
            let timeout = self.route?.timeout ?? self.grpcTimeout
        else { return }
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.timeoutTask = self.worker.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            bound.value.routeTimedOut()
        }
    }

    private func routeTimedOut() {
        guard self.phase != .finished, self.phase != .tunneling else { return }
        if self.phase == .awaitingResponse { self.recordOutlier(.timeout) }
        self.record.responseFlags.insert(.upstreamRequestTimeout)
        self.dropUpstream()
        if self.responseStarted {
            self.keepAliveAfterResponse = false
            self.finish(notifyDownstream: false)
            self.downstream.abort()
        } else {
            self.phase = .routing
            self.sendLocalReply(status: 504, text: LocalReply.timeout, details: "upstream_response_timeout")
        }
    }

    /// Closes (HTTP/1.1) or resets (HTTP/2) and forgets the upstream; never reused after an aborted exchange.
    func dropUpstream() {
        if let connection = self.connection {
            self.connection = nil
            connection.abort()
        }
    }

    func retain(_ body: ByteBuffer) {
        guard self.retainedBody != nil else { return }
        self.retainedBytes += body.readableBytes
        if self.retainedBytes > self.worker.services.limits.retryBufferBytes {
            self.retainedBody = nil
        } else {
            self.retainedBody?.append(body)
        }
    }

    func writeBodyUpstream(_ body: ByteBuffer, to connection: any UpstreamTransport) {
        connection.sendBody(body, allocator: self.downstream.allocator)
    }

    func writeEndUpstream(to connection: any UpstreamTransport) {
        connection.sendEnd(trailers: self.requestTrailers, allocator: self.downstream.allocator)
    }
}
