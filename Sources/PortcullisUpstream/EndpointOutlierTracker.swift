import NIOCore

/// Passive outlier detection for one cluster's endpoints (DestinationRule `outlierDetection`, ISTIO-SEMANTICS §3.4).
///
/// Follows Envoy's detector: an endpoint is ejected the moment its run of consecutive 5xx (or gateway errors)
/// reaches the threshold, for `baseEjectionTime × ejection count` (capped at max(base, 300 s)); sweeps every
/// `interval` bring back endpoints whose time is up and decay the count of healthy ones. `maxEjectionPercent` caps
/// how many are out at once. No panic mode: when all are ejected the load balancer has no candidate (503 UH).
///
/// One tracker per cluster per event loop, like `LoadBalancer`: not `Sendable`, no locks. Envoy aggregates
/// outcomes across workers; here each loop judges the endpoints from its own traffic, so with N loops an endpoint
/// needs the threshold on one loop. Time is passed in, so tests need no clock.
public final class OutlierTracker {
    /// What happened to one request sent to an endpoint.
    public enum Outcome: Sendable, Hashable {
        /// A response arrived with this status.
        case response(status: Int)
        /// The connection could not be established (locally originated).
        case connectFailure
        /// No response in time (locally originated).
        case timeout
        /// The connection was reset before a response (locally originated).
        case reset
    }

    private struct Monitor {
        var consecutive5xx = 0
        var consecutiveGateway = 0
        var consecutiveLocal = 0
        var ejections = 0
        var ejectedAt: NIODeadline?
    }

    public let policy: OutlierPolicy
    private var monitors: [Monitor]
    private var nextSweep: NIODeadline?
    public private(set) var ejectedCount = 0

    public init(policy: OutlierPolicy, endpointCount: Int) {
        self.policy = policy
        self.monitors = Array(repeating: Monitor(), count: endpointCount)
    }

    /// Records the outcome of one request to `endpoint`; may eject it.
    public func record(_ outcome: Outcome, endpoint: Int, now: NIODeadline) {
        guard self.monitors.indices.contains(endpoint) else { return }
        self.sweepIfDue(now: now)
        let local: Bool
        let status: Int
        switch outcome {
        case .response(let code): (local, status) = (false, code)
        case .connectFailure, .reset: (local, status) = (true, 503)
        case .timeout: (local, status) = (true, 504)
        }
        if local && self.policy.splitExternalLocalOriginErrors {
            self.monitors[endpoint].consecutiveLocal += 1
            if self.monitors[endpoint].consecutiveLocal == self.policy.consecutiveLocalOriginFailures {
                self.eject(endpoint, now: now)
            }
            return
        }
        if !local && self.policy.splitExternalLocalOriginErrors {
            // A response at all proves the connection works.
            self.monitors[endpoint].consecutiveLocal = 0
        }
        self.countStatus(status, endpoint: endpoint, now: now)
    }

    /// Whether `endpoint` is ejected at `now` (also runs a sweep when one is due).
    public func isEjected(_ endpoint: Int, now: NIODeadline) -> Bool {
        guard self.monitors.indices.contains(endpoint) else { return false }
        self.sweepIfDue(now: now)
        return self.monitors[endpoint].ejectedAt != nil
    }

    /// How many times `endpoint` has been ejected without decaying back (the ejection-time multiplier).
    public func ejectionCount(_ endpoint: Int) -> Int {
        self.monitors.indices.contains(endpoint) ? self.monitors[endpoint].ejections : 0
    }
}

extension OutlierTracker {
    /// Envoy `putHttpResponseCode`: a 5xx extends the 5xx run (and the gateway-error run for 502/503/504, else
    /// resets it); anything else resets both. Thresholds fire when the run *reaches* them; 0 disables.
    private func countStatus(_ status: Int, endpoint: Int, now: NIODeadline) {
        guard (500...599).contains(status) else {
            self.monitors[endpoint].consecutive5xx = 0
            self.monitors[endpoint].consecutiveGateway = 0
            return
        }
        if [502, 503, 504].contains(status) {
            self.monitors[endpoint].consecutiveGateway += 1
            let threshold = self.policy.consecutiveGatewayErrors
            if threshold > 0 && self.monitors[endpoint].consecutiveGateway == threshold {
                self.eject(endpoint, now: now)
            }
        } else {
            self.monitors[endpoint].consecutiveGateway = 0
        }
        self.monitors[endpoint].consecutive5xx += 1
        let threshold = self.policy.consecutive5xx
        if threshold > 0 && self.monitors[endpoint].consecutive5xx == threshold {
            self.eject(endpoint, now: now)
        }
    }

    /// Ejects unless already out or `maxEjectionPercent` would be exceeded (Envoy checks `(active + 1) / total`).
    private func eject(_ endpoint: Int, now: NIODeadline) {
        guard self.monitors[endpoint].ejectedAt == nil else { return }
        let percent = 100.0 * Double(self.ejectedCount + 1) / Double(self.monitors.count)
        guard percent <= Double(self.policy.maxEjectionPercent) else { return }
        self.monitors[endpoint].ejectedAt = now
        self.monitors[endpoint].ejections += 1
        self.ejectedCount += 1
        if self.nextSweep == nil { self.nextSweep = now + TimeAmount(self.policy.interval) }
    }

    /// Runs every interval sweep that is due: un-eject endpoints whose ejection time passed, decay healthy ones.
    private func sweepIfDue(now: NIODeadline) {
        guard let due = self.nextSweep, now >= due else { return }
        let interval = TimeAmount(self.policy.interval)
        let base = TimeAmount(self.policy.baseEjectionTime)
        let cap = max(base, .seconds(300))
        for i in self.monitors.indices {
            if let ejectedAt = self.monitors[i].ejectedAt {
                let duration = min(base * self.monitors[i].ejections, cap)
                if now >= ejectedAt + duration {
                    self.monitors[i] = Monitor(ejections: self.monitors[i].ejections)
                    self.ejectedCount -= 1
                }
            } else if self.monitors[i].ejections > 0 {
                self.monitors[i].ejections -= 1
            }
        }
        // Sweeps keep their cadence; a long quiet gap counts as one sweep, which only delays decay.
        let missed = (now - due).nanoseconds / max(1, interval.nanoseconds)
        self.nextSweep = due + interval * (missed + 1)
    }
}

@available(*, unavailable)
extension OutlierTracker: Sendable {}
