import PortcullisModel

/// Passive outlier detection settings of one cluster (DestinationRule `outlierDetection`, ISTIO-SEMANTICS §3.4).
///
/// A cluster without the block has no `OutlierPolicy` and never ejects. Success-rate ejection is always off, and
/// panic mode is disabled (Istio's `minHealthPercent` default 0): when every endpoint is ejected, requests get
/// 503 UH rather than being spread over unhealthy hosts.
public struct OutlierPolicy: Sendable, Hashable {
    /// `consecutive5xxErrors`: 5 when the block is present; 0 disables.
    public var consecutive5xx: Int
    /// `consecutiveGatewayErrors` (502/503/504 and connection errors): 0 = off.
    public var consecutiveGatewayErrors: Int
    /// Sweep interval that un-ejects hosts and decays ejection counts; default 10 s.
    public var interval: Duration
    /// Multiplied by the host's ejection count; default 30 s.
    public var baseEjectionTime: Duration
    /// At most this share of the endpoints is ejected at once; default 10.
    public var maxEjectionPercent: Int
    /// `splitExternalLocalOriginErrors`: count connect failures and timeouts apart from HTTP statuses.
    public var splitExternalLocalOriginErrors: Bool
    /// `consecutiveLocalOriginFailures` (only with the split); default 5.
    public var consecutiveLocalOriginFailures: Int

    public init(
        consecutive5xx: Int = 5, consecutiveGatewayErrors: Int = 0, interval: Duration = .seconds(10),
        baseEjectionTime: Duration = .seconds(30), maxEjectionPercent: Int = 10,
        splitExternalLocalOriginErrors: Bool = false, consecutiveLocalOriginFailures: Int = 5
    ) {
        self.consecutive5xx = consecutive5xx
        self.consecutiveGatewayErrors = consecutiveGatewayErrors
        self.interval = interval
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
        self.splitExternalLocalOriginErrors = splitExternalLocalOriginErrors
        self.consecutiveLocalOriginFailures = consecutiveLocalOriginFailures
    }

    /// The policy for a DestinationRule block, or nil when the block is absent (§3.4 "absent = no ejection").
    /// The deprecated `consecutiveErrors` is not modelled, so it is ignored as current pilot does.
    public init?(_ block: OutlierDetection?) {
        guard let block else { return nil }
        self.init()
        if let v = block.consecutive5xxErrors { self.consecutive5xx = max(0, v) }
        if let v = block.consecutiveGatewayErrors { self.consecutiveGatewayErrors = max(0, v) }
        if let v = block.interval, v > .zero { self.interval = v }
        if let v = block.baseEjectionTime, v > .zero { self.baseEjectionTime = v }
        if let v = block.maxEjectionPercent { self.maxEjectionPercent = min(100, max(0, v)) }
        self.splitExternalLocalOriginErrors = block.splitExternalLocalOriginErrors
        if let v = block.consecutiveLocalOriginFailures { self.consecutiveLocalOriginFailures = max(0, v) }
    }
}
