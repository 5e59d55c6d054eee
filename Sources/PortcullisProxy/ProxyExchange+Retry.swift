import NIOCore
import PortcullisObservability
import PortcullisRouting

/// Retries beyond connect failures (ISTIO-SEMANTICS §2.7.1) and fault injection (§2.7.3).
extension ProxyExchange {
    /// Whether a real upstream response with `status` is retriable under `policy` (`5xx`, `gateway-error`,
    /// `retriable-4xx`, `retriable-status-codes`); a reset turned into 503 is not a status (§2.7.1).
    static func isRetriable(status: Int, policy: RetryPolicy) -> Bool {
        if policy.retryOn5xx && status >= 500 && status <= 599 { return true }
        if policy.retryOnGatewayError && (status == 502 || status == 503 || status == 504) { return true }
        if policy.retryOnRetriable4xx && status == 409 { return true }
        return policy.retriableStatusCodes.contains(status)
    }

    /// A retry needs budget left and the whole request body in hand (Envoy buffers up to ~1 MiB; §2.7.1).
    var canRetry: Bool {
        guard let policy = self.route?.retry, self.retriesDone < policy.attempts else { return false }
        return self.requestComplete && self.retainedBody != nil
    }

    /// Drops the current attempt and starts another on a different endpoint when possible.
    func retryAttempt() {
        self.retriesDone += 1
        self.perTryTask?.cancel()
        self.perTryTask = nil
        self.dropUpstream()
        if let key = self.endpointKey, let cluster = self.cluster {
            self.worker.requestEnded(endpointKey: key, cluster: cluster.name)
        }
        self.endpointKey = nil
        if let index = self.endpointIndex { self.triedEndpoints.append(index) }
        self.phase = .connecting
        self.queuedBody = self.retainedBody ?? []
        self.queuedBytes = self.queuedBody.reduce(0) { $0 + $1.readableBytes }
        self.retainedBody = []
        self.retainedBytes = 0
        self.scheduleRetry()
    }

    /// Arms `perTryTimeout` for the attempt just sent.
    func armPerTryTimeout() {
        self.perTryTask?.cancel()
        self.perTryTask = nil
        guard let timeout = self.route?.retry.perTryTimeout else { return }
        let bound = NIOLoopBound(self, eventLoop: self.worker.eventLoop)
        self.perTryTask = self.worker.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            bound.value.perTryTimedOut()
        }
    }

    private func perTryTimedOut() {
        self.perTryTask = nil
        guard self.phase == .awaitingResponse, let policy = self.route?.retry else { return }
        // A per-try timeout is retried only under 5xx / gateway-error / reset style policies (§2.7.1).
        if (policy.retryOn5xx || policy.retryOnGatewayError || policy.retryOnReset) && self.canRetry {
            self.retryAttempt()
            return
        }
        self.record.responseFlags.insert(.upstreamRequestTimeout)
        self.dropUpstream()
        self.phase = .routing
        self.sendLocalReply(status: 504, text: LocalReply.timeout, details: "upstream_per_try_timeout")
    }

    /// Applies a route's fault policy before forwarding. Returns false when the request was answered by an
    /// abort or will continue after a delay (the continuation calls `continueAfterFault`).
    func applyFault(_ fault: FaultPolicy, then continuation: @escaping () -> Void) -> Bool {
        if let delay = fault.delay, self.roll(fault.delayPerMillion) {
            self.record.responseFlags.insert(.delayInjected)
            let bound = NIOLoopBound((self, continuation), eventLoop: self.worker.eventLoop)
            self.worker.eventLoop.scheduleTask(in: TimeAmount(delay)) {
                let (exchange, continuation) = bound.value
                guard exchange.phase == .routing else { return }
                if exchange.abortIfFaulted(fault) { return }
                continuation()
            }
            return false
        }
        return !self.abortIfFaulted(fault)
    }

    /// The abort half of a fault: a local reply with the configured status and Envoy's body, never retried.
    private func abortIfFaulted(_ fault: FaultPolicy) -> Bool {
        guard let status = fault.abortStatus, self.roll(fault.abortPerMillion) else { return false }
        self.record.responseFlags.insert(.faultInjected)
        self.sendLocalReply(status: status, text: "fault filter abort", details: "fault_filter_abort")
        return true
    }

    /// True with probability `perMillion` / 1,000,000.
    private func roll(_ perMillion: Int) -> Bool {
        perMillion >= 1_000_000 || Int(self.worker.random.next() % 1_000_000) < perMillion
    }
}
