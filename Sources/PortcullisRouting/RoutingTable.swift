import PortcullisModel

/// The compiled, immutable routing graph of one config snapshot (ARCHITECTURE "Config becomes a snapshot").
public final class RoutingTable: Sendable {
    /// Sorted by (port, bind).
    public let listeners: [Listener]
    /// Every cluster any route references (forward, mirror, tls, tcp), for the upstream layer to build.
    public let clusterKeys: Set<ClusterKey>

    init(listeners: [Listener], clusterKeys: Set<ClusterKey>) {
        self.listeners = listeners
        self.clusterKeys = clusterKeys
    }

    /// The first listener on `port` (any bind address).
    public func listener(port: Int) -> Listener? {
        self.listeners.first { $0.port == port }
    }
}

/// Listener family of a (bind, port): plaintext HTTP, TLS (HTTPS/TLS servers, chosen by SNI) or opaque TCP.
public enum ListenerKind: Sendable {
    case http
    case tls
    case tcp
}

/// A Gateway server that survived merging (ISTIO-SEMANTICS §1.5).
public struct ServerInfo: Sendable {
    /// `ns/name` of the Gateway.
    public let gateway: String
    /// Index in the Gateway's `servers[]`.
    public let index: Int
    public let portName: String
    /// The declared port number (what `match.port` and `FROM_REQUEST_PORT` see).
    public let portNumber: Int
    public let `protocol`: PortProtocol
    /// Hosts as written (`ns/host` forms included).
    public let hosts: [String]
    /// Hosts with the namespace part removed and lower-cased: the SNI names of a TLS server.
    public let sniHosts: [String]
    public let tls: ServerTLSSettings?

    /// True for an HTTPS server that terminates TLS and therefore routes with `http[]` (§2.10).
    public var terminatesHTTPS: Bool {
        guard self.protocol == .https, let mode = self.tls?.mode else { return false }
        return mode == .simple || mode == .mutual || mode == .optionalMutual || mode == .istioMutual
    }
}

/// One (bind, port) the gateway listens on.
public final class Listener: Sendable {
    /// `0.0.0.0` unless a server sets `bind`.
    public let bind: String
    public let port: Int
    public let kind: ListenerKind
    /// Surviving servers in merge order.
    public let servers: [ServerInfo]
    /// The merged `http.<port>` table; non-nil for `.http`.
    public let httpRoutes: HTTPRouteTable?
    /// For `.tls`: aligned with `servers`, the own route table of each terminating HTTPS server (§1.5), else nil.
    public let serverRoutes: [HTTPRouteTable?]
    /// For `.tls` and `.tcp`: one chain per server, aligned with `servers` (§0 step 2, §2.10); empty for `.http`.
    public let filterChains: [FilterChain]
    private let sniIndex: SNIIndex

    init(
        bind: String, port: Int, kind: ListenerKind, servers: [ServerInfo], httpRoutes: HTTPRouteTable?,
        serverRoutes: [HTTPRouteTable?], filterChains: [FilterChain] = []
    ) {
        self.bind = bind
        self.port = port
        self.kind = kind
        self.servers = servers
        self.httpRoutes = httpRoutes
        self.serverRoutes = serverRoutes
        self.filterChains = filterChains
        self.sniIndex = SNIIndex(filterChains.enumerated().flatMap { i, c in c.serverNames.map { ($0, i) } })
    }

    /// The chain for a ClientHello SNI (§0 step 2, §8.12): exact server name, then the longest `*.suffix`
    /// (`*.com` matches `a.b.com`), then a catch-all (`*`) server; no SNI reaches only the catch-all. nil means
    /// the connection is closed. A `.tcp` listener does not read a ClientHello: its single chain serves every
    /// connection whatever `sni` is.
    public func filterChain(forServerName sni: String?) -> FilterChain? {
        if self.kind == .tcp { return self.filterChains.first }
        return self.sniIndex.lookup(sni).map { self.filterChains[$0] }
    }
}
