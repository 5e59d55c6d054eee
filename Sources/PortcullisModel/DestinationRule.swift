/// `networking.istio.io` `DestinationRule` (ISTIO-SEMANTICS §3).
public struct DestinationRule: Sendable, Hashable {
    public var meta: ObjectMeta
    /// As written (short names expanded by the compiler with the DR's namespace).
    public var host: String
    public var exportTo: [String]
    public var trafficPolicy: TrafficPolicy?
    public var subsets: [Subset]
    /// `workloadSelector.matchLabels`; nil when absent.
    public var workloadSelector: [String: String]?
    public init(
        meta: ObjectMeta, host: String, exportTo: [String] = [], trafficPolicy: TrafficPolicy? = nil,
        subsets: [Subset] = [], workloadSelector: [String: String]? = nil
    ) {
        self.meta = meta
        self.host = host
        self.exportTo = exportTo
        self.trafficPolicy = trafficPolicy
        self.subsets = subsets
        self.workloadSelector = workloadSelector
    }
}

public struct Subset: Sendable, Hashable {
    public var name: String
    /// Empty = all endpoints.
    public var labels: [String: String]
    public var trafficPolicy: TrafficPolicy?
    public init(name: String, labels: [String: String] = [:], trafficPolicy: TrafficPolicy? = nil) {
        self.name = name
        self.labels = labels
        self.trafficPolicy = trafficPolicy
    }
}

/// `TrafficPolicy`. Blocks are replaced whole when merging (§3.6), never deep-merged.
public struct TrafficPolicy: Sendable, Hashable {
    public var loadBalancer: LoadBalancerSettings?
    public var connectionPool: ConnectionPoolSettings?
    public var outlierDetection: OutlierDetection?
    public var tls: ClientTLSSettings?
    public var portLevelSettings: [PortTrafficPolicy] = []
    public init() {}
}

public struct PortTrafficPolicy: Sendable, Hashable {
    public var port: Int
    public var loadBalancer: LoadBalancerSettings?
    public var connectionPool: ConnectionPoolSettings?
    public var outlierDetection: OutlierDetection?
    public var tls: ClientTLSSettings?
    public init(port: Int) { self.port = port }
}

public enum SimpleLoadBalancer: String, Sendable, Hashable {
    case unspecified = "UNSPECIFIED"
    case leastRequest = "LEAST_REQUEST"
    /// Deprecated alias of LEAST_REQUEST; the decoder maps it to `.leastRequest`.
    case leastConn = "LEAST_CONN"
    case roundRobin = "ROUND_ROBIN"
    case random = "RANDOM"
    case passthrough = "PASSTHROUGH"
}

public struct LoadBalancerSettings: Sendable, Hashable {
    public var simple: SimpleLoadBalancer?
    public var consistentHash: ConsistentHash?
    public init(simple: SimpleLoadBalancer? = nil, consistentHash: ConsistentHash? = nil) {
        self.simple = simple
        self.consistentHash = consistentHash
    }
}

public struct ConsistentHash: Sendable, Hashable {
    public var httpHeaderName: String?
    public var httpCookieName: String?
    public var httpCookiePath: String?
    public var httpCookieTTL: Duration?
    public var useSourceIp: Bool = false
    public var httpQueryParameterName: String?
    public var minimumRingSize: Int?
    public init() {}
}

public struct ConnectionPoolSettings: Sendable, Hashable {
    public struct TCP: Sendable, Hashable {
        public var maxConnections: Int?
        public var connectTimeout: Duration?
        public var maxConnectionDuration: Duration?
        public var idleTimeout: Duration?
        public init() {}
    }
    public struct HTTP: Sendable, Hashable {
        public var http1MaxPendingRequests: Int?
        public var http2MaxRequests: Int?
        public var maxRequestsPerConnection: Int?
        public var maxRetries: Int?
        public var idleTimeout: Duration?
        /// `DEFAULT`, `DO_NOT_UPGRADE`, `UPGRADE`.
        public var h2UpgradePolicy: String?
        public var useClientProtocol: Bool = false
        public var maxConcurrentStreams: Int?
        public init() {}
    }
    public var tcp: TCP?
    public var http: HTTP?
    public init(tcp: TCP? = nil, http: HTTP? = nil) {
        self.tcp = tcp
        self.http = http
    }
}

public struct OutlierDetection: Sendable, Hashable {
    public var consecutive5xxErrors: Int?
    public var consecutiveGatewayErrors: Int?
    public var interval: Duration?
    public var baseEjectionTime: Duration?
    public var maxEjectionPercent: Int?
    public var minHealthPercent: Int?
    public var splitExternalLocalOriginErrors: Bool = false
    public var consecutiveLocalOriginFailures: Int?
    public init() {}
}

public enum ClientTLSMode: String, Sendable, Hashable {
    case disable = "DISABLE"
    case simple = "SIMPLE"
    case mutual = "MUTUAL"
    case istioMutual = "ISTIO_MUTUAL"
}

/// `ClientTLSSettings` (§3.5).
public struct ClientTLSSettings: Sendable, Hashable {
    public var mode: ClientTLSMode = .disable
    public var clientCertificate: String?
    public var privateKey: String?
    public var caCertificates: String?
    public var caCrl: String?
    public var credentialName: String?
    public var subjectAltNames: [String] = []
    public var sni: String?
    public var insecureSkipVerify: Bool = false
    public init() {}
}
