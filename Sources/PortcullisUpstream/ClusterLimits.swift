import PortcullisModel

/// The HTTP version spoken to a cluster's endpoints (ISTIO-SEMANTICS §3.3 "upstream protocol").
public enum UpstreamProtocol: Sendable, Hashable {
    case http1
    case http2
}

/// Circuit-breaker and connection limits of one cluster, from DestinationRule `connectionPool` (§3.3).
///
/// Limits apply per cluster; "unset or 0" means the default. The pools enforce them: overflow of pending or
/// active requests is answered 503 `UO` immediately.
public struct ConnectionLimits: Sendable, Hashable {
    /// `tcp.connectTimeout`, default 10 s (MeshConfig `connectTimeout`).
    public var connectTimeout: Duration
    /// `tcp.maxConnections`, default unlimited (Istio 2^32-1).
    public var maxConnections: Int
    /// `http.http1MaxPendingRequests`: requests queued waiting for a connection, default unlimited.
    public var maxPendingRequests: Int
    /// `http.http2MaxRequests`: concurrent active requests (HTTP/1 and HTTP/2), default unlimited.
    public var maxRequests: Int
    /// `http.maxRequestsPerConnection`: 0 = unlimited, 1 = no keep-alive.
    public var maxRequestsPerConnection: Int
    /// `http.maxRetries`: concurrent retries, default unlimited.
    public var maxRetries: Int
    /// `http.idleTimeout`, else `tcp.idleTimeout`, default 1 h. `.zero` = never close idle connections.
    public var idleTimeout: Duration
    /// `tcp.maxConnectionDuration`; nil = no limit.
    public var maxConnectionDuration: Duration?
    /// `http.maxConcurrentStreams` per HTTP/2 connection; nil = what the server's SETTINGS allow.
    public var maxConcurrentStreams: Int?

    /// Everything at its default (a DestinationRule without `connectionPool`).
    public init() {
        self.connectTimeout = .seconds(10)
        self.maxConnections = Int.max
        self.maxPendingRequests = Int.max
        self.maxRequests = Int.max
        self.maxRequestsPerConnection = 0
        self.maxRetries = Int.max
        self.idleTimeout = .seconds(3600)
        self.maxConnectionDuration = nil
        self.maxConcurrentStreams = nil
    }

    /// Applies one `connectionPool` block over the defaults (§3.3). The block is taken whole: fields it omits
    /// are defaults, never values inherited from another block (§3.6).
    public init(_ settings: ConnectionPoolSettings?) {
        self.init()
        if let tcp = settings?.tcp {
            if let v = tcp.maxConnections, v > 0 { self.maxConnections = v }
            if let v = tcp.connectTimeout, v > .zero { self.connectTimeout = v }
            if let v = tcp.idleTimeout { self.idleTimeout = v }
            if let v = tcp.maxConnectionDuration, v > .zero { self.maxConnectionDuration = v }
        }
        if let http = settings?.http {
            if let v = http.http1MaxPendingRequests, v > 0 { self.maxPendingRequests = v }
            if let v = http.http2MaxRequests, v > 0 { self.maxRequests = v }
            if let v = http.maxRequestsPerConnection, v > 0 { self.maxRequestsPerConnection = v }
            if let v = http.maxRetries, v > 0 { self.maxRetries = v }
            // §3.3: when both idle timeouts are set, the HTTP one wins.
            if let v = http.idleTimeout { self.idleTimeout = v }
            if let v = http.maxConcurrentStreams, v > 0 { self.maxConcurrentStreams = v }
        }
    }
}

extension UpstreamProtocol {
    /// The protocol for a service port (§3.3): `HTTP2`/`GRPC`/`GRPC-WEB` ports speak h2, others HTTP/1.1;
    /// `h2UpgradePolicy: UPGRADE` upgrades an HTTP/1.1 port to h2, `DO_NOT_UPGRADE` (and `DEFAULT`, as the mesh
    /// default is "do not upgrade") leaves it alone. An h2-native port is never downgraded.
    public init(port: PortProtocol, connectionPool: ConnectionPoolSettings?) {
        if port.isHTTP2 {
            self = .http2
        } else if connectionPool?.http?.h2UpgradePolicy == "UPGRADE" {
            self = .http2
        } else {
            self = .http1
        }
    }
}
