import PortcullisModel

/// The four policy blocks that govern one cluster once DestinationRule merging is done (ISTIO-SEMANTICS §3.6).
///
/// A nil block means "defaults" (`ConnectionLimits()`, LEAST_REQUEST, no outlier detection, plaintext).
public struct ResolvedTrafficPolicy: Sendable, Hashable {
    public var loadBalancer: LoadBalancerSettings?
    public var connectionPool: ConnectionPoolSettings?
    public var outlierDetection: OutlierDetection?
    public var tls: ClientTLSSettings?

    public init(
        loadBalancer: LoadBalancerSettings? = nil, connectionPool: ConnectionPoolSettings? = nil,
        outlierDetection: OutlierDetection? = nil, tls: ClientTLSSettings? = nil
    ) {
        self.loadBalancer = loadBalancer
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
        self.tls = tls
    }

    /// The blocks of `policy` for `port`, and whether a port-level entry supplied them.
    ///
    /// §3.6 rule 1: a `portLevelSettings` entry for the port *replaces* the top-level blocks; blocks it omits are
    /// defaults, never the top-level values. The first entry for a port wins (validation rejects duplicates).
    static func forPort(_ policy: TrafficPolicy?, port: Int) -> (policy: ResolvedTrafficPolicy, portLevel: Bool) {
        guard let policy else { return (ResolvedTrafficPolicy(), false) }
        if let entry = policy.portLevelSettings.first(where: { $0.port == port }) {
            let blocks = ResolvedTrafficPolicy(
                loadBalancer: entry.loadBalancer, connectionPool: entry.connectionPool,
                outlierDetection: entry.outlierDetection, tls: entry.tls)
            return (blocks, true)
        }
        let blocks = ResolvedTrafficPolicy(
            loadBalancer: policy.loadBalancer, connectionPool: policy.connectionPool,
            outlierDetection: policy.outlierDetection, tls: policy.tls)
        return (blocks, false)
    }

    /// Resolves the DestinationRule's policy and, when a route names a subset, the subset's policy for `port`.
    ///
    /// §3.6 rule 2: a subset port-level entry replaces all four blocks wholesale (nil → default); otherwise each
    /// block the subset sets replaces the DestinationRule's block of the same name, with no deep merge inside it.
    public static func resolve(rule: TrafficPolicy?, subset: TrafficPolicy?, port: Int) -> ResolvedTrafficPolicy {
        let base = Self.forPort(rule, port: port).policy
        guard let subset else { return base }
        let (own, portLevel) = Self.forPort(subset, port: port)
        if portLevel { return own }
        var merged = base
        if let block = own.loadBalancer { merged.loadBalancer = block }
        if let block = own.connectionPool { merged.connectionPool = block }
        if let block = own.outlierDetection { merged.outlierDetection = block }
        if let block = own.tls { merged.tls = block }
        return merged
    }
}
