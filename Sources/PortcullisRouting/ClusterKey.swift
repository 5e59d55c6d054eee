/// Identity of an upstream cluster, Istio's `outbound|<port>|<subset>|<host>` (ISTIO-SEMANTICS §0 step 6).
///
/// The route table names clusters only by this key; the upstream layer owns endpoints and policy.
public struct ClusterKey: Hashable, Sendable, CustomStringConvertible {
    /// Fully qualified host (short names already expanded, §6).
    public let host: String
    /// DestinationRule subset name; nil or empty means "all endpoints".
    public let subset: String?
    /// Service port number (declared, not target port).
    public let port: Int

    public init(host: String, subset: String?, port: Int) {
        self.host = host
        self.subset = subset
        self.port = port
    }

    /// `outbound|9080|v1|reviews.default.svc.cluster.local`; a missing subset leaves the field empty.
    public var description: String {
        "outbound|\(self.port)|\(self.subset ?? "")|\(self.host)"
    }
}

/// Who we are, for the config-time decisions that depend on the gateway workload (§1.1, §2.3, §6).
public struct RoutingOptions: Sendable {
    /// Labels of this gateway workload; nil means every Gateway applies regardless of its selector.
    public var gatewayLabels: [String: String]?
    /// Namespace of the gateway workload: decides VS visibility (`exportTo`) and `sourceNamespace`.
    public var gatewayNamespace: String
    /// Cluster domain used for short-name expansion (`<name>.<ns>.svc.<domain>`).
    public var domain: String

    public init(
        gatewayLabels: [String: String]? = nil, gatewayNamespace: String = "istio-system",
        domain: String = "cluster.local"
    ) {
        self.gatewayLabels = gatewayLabels
        self.gatewayNamespace = gatewayNamespace
        self.domain = domain
    }
}
