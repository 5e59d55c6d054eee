import NIOCore
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

extension ProxyExchange: UpstreamResponseReceiver {
    /// Puts the request on `connection`: head, queued body and (if complete) the end, in one flush.
    func attach(_ connection: any UpstreamTransport, reused: Bool) {
        guard let request = self.upstreamRequest else { return }
        self.connection = connection
        self.connectionWasReused = reused
        self.phase = .awaitingResponse
        self.record.upstreamLocalAddress = connection.localAddress
        if self.cluster?.needsDNS == true, let remote = connection.remoteAddress { self.record.upstreamHost = remote }
        connection.begin(method: self.head.method, receiver: self)
        let allocator = self.downstream.allocator
        let queued = self.queuedBody
        self.queuedBody.removeAll()
        let headOnly = self.requestComplete && queued.isEmpty && (self.requestTrailers?.count ?? 0) == 0
        connection.sendHead(request, endStream: headOnly, allocator: allocator)
        if self.queuedBytes > self.worker.services.limits.retryBufferBytes { self.downstream.setAutoRead(true) }
        self.queuedBytes = 0
        for body in queued {
            self.retain(body)
            connection.sendBody(body, allocator: allocator)
        }
        if self.requestComplete && !headOnly { connection.sendEnd(trailers: self.requestTrailers, allocator: allocator) }
        connection.flush()
        if self.head.expectContinue, !self.sentContinue, !self.requestComplete, connection.answersExpectContinue {
            self.sentContinue = true
            self.downstream.writeContinue()
        }
        self.armPerTryTimeout()
        if self.requestComplete { self.startMirrorsOnce() }
    }

    func upstreamHead(_ head: HTTP1ResponseHead) {
        guard self.phase == .awaitingResponse else { return }
        self.perTryTask?.cancel()
        self.perTryTask = nil
        self.recordOutlier(.response(status: head.status))
        if let policy = self.route?.retry, head.status != 101, Self.isRetriable(status: head.status, policy: policy) {
            if self.canRetry {
                self.retryAttempt()
                return
            }
            if self.retriesDone > 0 { self.record.responseFlags.insert(.upstreamRetryLimitExceeded) }
        }
        self.responseStatus = head.status
        let upstreamTime = self.upstreamStart.map { Int((NIODeadline.now() - $0).nanoseconds / 1_000_000) } ?? 0
        self.record.upstreamServiceTimeMs = upstreamTime
        var headers = HTTPHeaderList()
        let connectionTokens = HeaderPolicy.connectionTokens(head.headers)
        let switching = head.status == 101 && self.head.isUpgrade
        let keepLength = self.head.method == "HEAD" || head.status == 304
        var hasDate = false
        for index in 0..<head.headers.count {
            let (name, value) = head.headers[index]
            let role = HeaderPolicy.responseRole(name)
            if role.drop && !(role.isContentLength && keepLength) && !(role.isUpgrade && switching) { continue }
            if !connectionTokens.isEmpty && connectionTokens.contains(name.lowercased()) { continue }
            if !hasDate && name.utf8.count == 4 && name.lowercased() == "date" { hasDate = true }
            headers.add(name, value)
        }
        if !hasDate { headers.add("date", self.worker.httpDate) }
        headers.add("server", self.worker.services.serverName)
        headers.add("x-envoy-upstream-service-time", String(upstreamTime))
        if let route = self.route, let destination = self.destination {
            if case .forward(let forward) = route.action, forward.destinations.count > 1 {
                HeaderPolicy.apply(destination.responseHeaders, to: &headers)
                HeaderPolicy.apply(route.responseHeaders, to: &headers)
            } else {
                HeaderPolicy.apply(route.responseHeaders, to: &headers)
                HeaderPolicy.apply(destination.responseHeaders, to: &headers)
            }
        }
        for (name, value) in self.corsResponseHeaders { headers.set(name, value) }
        if switching {
            headers.add("connection", "upgrade")
            self.phase = .tunneling
            self.responseStarted = true
            self.timeoutTask?.cancel()
            self.downstream.writeResponseHead(status: 101, reason: nil, headers: headers)
            self.downstream.flush()
            self.downstream.startTunnel()
            return
        }
        let bodyless = self.head.method == "HEAD" || head.status == 204 || head.status == 304
        switch head.framing {
        case .contentLength(let n):
            if !bodyless { headers.add("content-length", String(n)) }
        case .chunked, .untilClose:
            if !bodyless {
                headers.add("transfer-encoding", "chunked")
                self.responseChunked = true
            }
        case .none:
            if !bodyless && head.status >= 200 { headers.add("content-length", "0") }
        }
        // An upstream that saw an Upgrade request may have left HTTP/1.1 parsing even when it refused the upgrade
        // (NIO's decoder does): never reuse that connection.
        if !head.keepAlive || self.head.isUpgrade { self.releaseConnectionOnEnd = false }
        if self.downstream.mustCloseAfterResponse(requestKeepAlive: self.head.keepAlive) {
            self.keepAliveAfterResponse = false
            headers.set("connection", "close")
        }
        if self.record.isGRPC, let status = head.headers.first("grpc-status") { self.record.grpcStatus = Int(status) }
        self.phase = .responding
        self.responseStarted = true
        self.record.responseCodeDetails = "via_upstream"
        self.downstream.writeResponseHead(status: head.status, reason: head.reason, headers: headers)
    }

    /// Relays the upstream's `100 Continue` to a client that asked for it (once); other 1xx are dropped.
    func upstreamInformational(_ head: HTTP1ResponseHead) {
        guard head.status == 100, self.head.expectContinue, !self.sentContinue, self.phase == .awaitingResponse
        else { return }
        self.sentContinue = true
        self.downstream.writeContinue()
    }

    func upstreamBody(_ body: ByteBuffer) {
        guard self.phase == .responding else { return }
        self.responseBodyBytes += body.readableBytes
        self.downstream.writeResponseBody(body, chunked: self.responseChunked)
        if !self.downstream.isWritable { self.connection?.setAutoRead(false) }
    }

    func upstreamEnd(_ trailers: HTTPHeaderList?) {
        if self.phase == .tunneling {
            self.connection = nil
            self.keepAliveAfterResponse = false
            self.downstream.flush()
            self.finish(notifyDownstream: true)
            return
        }
        guard self.phase == .responding else { return }
        if self.record.isGRPC, let status = trailers?.first("grpc-status") { self.record.grpcStatus = Int(status) }
        self.downstream.writeResponseEnd(trailers: trailers, chunked: self.responseChunked)
        self.downstream.flush()
        if let connection = self.connection {
            self.connection = nil
            let perConnection = self.cluster?.limits.maxRequestsPerConnection ?? 0
            let reusable = self.releaseConnectionOnEnd && self.requestComplete
                && (perConnection == 0 || connection.requestsServed < perConnection)
            connection.complete(reusable: reusable, idleTimeout: .seconds(self.runtime?.idleTimeoutSeconds ?? 60))
        }
        self.finish(notifyDownstream: true)
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        if self.phase == .awaitingResponse && !self.connectionWasReused { self.recordOutlier(.reset) }
        let connection = self.connection
        self.connection = nil
        connection?.abort()
        switch self.phase {
        case .awaitingResponse:
            // A reused keep-alive connection closed under us before any response byte: the request never
            // reached an application, so resend it once on a fresh connection when we still hold the body.
            if self.connectionWasReused, connection?.canResendOnEarlyClose == true, self.retainedBody != nil,
                self.requestComplete || self.requestBodyBytes == 0, case .resetBeforeHeaders = failure
            {
                self.resendOnFreshConnection()
                return
            }
            if case .resetBeforeHeaders = failure, self.route?.retry.retryOnReset == true, self.canRetry {
                self.retryAttempt()
                return
            }
            if case .refused = failure, self.route?.retry.retryOnRefusedStream == true, self.canRetry {
                // REFUSED_STREAM or a GOAWAY: the upstream never processed the request (`refused-stream`).
                self.retryAttempt()
                return
            }
            self.record.responseFlags.insert(.upstreamConnectionTermination)
            let text: String
            switch failure {
            case .protocolError(let reason):
                self.record.responseFlags.insert(.upstreamProtocolError)
                self.record.upstreamTransportFailureReason = reason
                text = LocalReply.protocolError
            default:
                text = LocalReply.connectionTermination
            }
            self.phase = .routing
            self.keepAliveAfterResponse = self.requestComplete
            self.sendLocalReply(
                status: 503, text: text, details: "upstream_reset_before_response_started{connection_termination}")
        case .responding, .tunneling:
            self.record.responseFlags.insert(.upstreamConnectionTermination)
            self.keepAliveAfterResponse = false
            self.finish(notifyDownstream: false)
            self.downstream.abort()
        case .routing, .connecting, .finished:
            break
        }
    }

    private func resendOnFreshConnection() {
        guard let runtime = self.runtime, let cluster = self.cluster, let key = self.endpointKey,
            let index = self.endpointIndex, cluster.endpoints.indices.contains(index)
        else { return }
        self.phase = .connecting
        self.queuedBody = self.retainedBody ?? []
        self.queuedBytes = self.queuedBody.reduce(0) { $0 + $1.readableBytes }
        self.retainedBody = []
        self.retainedBytes = 0
        let endpoint = cluster.endpoints[index]
        guard let address = self.worker.socketAddress(ip: endpoint.address, port: endpoint.port) else {
            self.worker.requestEnded(endpointKey: key, cluster: cluster.name)
            self.endpointKey = nil
            self.attempt()
            return
        }
        let target = UpstreamTarget(
            runtime: runtime, endpointIndex: index, tls: self.upstreamTLS(cluster: cluster, http2: false),
            http2: false)
        self.worker.connect(target, to: address) { result in
            self.acquired(result, endpointKey: key)
        }
    }

    func upstreamReadComplete() {
        self.downstream.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        self.downstream.setAutoRead(writable)
    }

    func upstreamTunnelData(_ data: ByteBuffer) {
        self.responseBodyBytes += data.readableBytes
        self.downstream.writeTunnelData(data)
        self.downstream.flush()
    }
}
