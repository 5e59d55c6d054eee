/// One server filter chain of a TLS or TCP listener (ISTIO-SEMANTICS §0 step 2, §1.5): what the data plane does
/// with a connection once the ClientHello's SNI has selected this Gateway server.
public struct FilterChain: Sendable {
    /// Index of the server in `Listener.servers` (and `Listener.serverRoutes`).
    public let serverIndex: Int
    public let server: ServerInfo
    /// The SNI names this chain is selected by (Envoy `filter_chain_match.server_names`), lower-cased; `*` is the
    /// catch-all. For a terminating or TCP server these are the server hosts without their namespace part; for a
    /// PASSTHROUGH server they are the SNI names its `tls[]` routes claimed (§2.10: each surviving match becomes a
    /// filter chain keyed by its SNI list), so a passthrough server without routes is never selected.
    public let serverNames: [String]
    public let mode: FilterChainMode
}

/// What a selected filter chain does (§0 step 2, §1.4 `mode`, §2.10).
public enum FilterChainMode: Sendable {
    /// `HTTPS` + `SIMPLE`/`MUTUAL`/`OPTIONAL_MUTUAL`/`ISTIO_MUTUAL`: terminate TLS, then the HTTP pipeline with
    /// this server's own route table only (§1.5: SNI `a` with Host `b` gets 404).
    case terminateHTTP(HTTPRouteTable)
    /// `TLS` + a terminating mode: terminate TLS, then proxy TCP through the first fitting VS `tcp[]` rule; nil
    /// means no VS supplies one and the connection is closed.
    case terminateTCP(TCPRoute?)
    /// `tls.mode: PASSTHROUGH` (the enum default, §8.11): no termination; the upstream is chosen by SNI from the
    /// VS `tls[]` routes and raw bytes are proxied.
    case passthrough(PassthroughRoutes)
    /// An opaque TCP server (`TCP`, `MONGO`, ...): proxy through the first fitting VS `tcp[]` rule; nil closes.
    case plainTCP(TCPRoute?)
}

/// The `tls[]` routes of one PASSTHROUGH server, selected by SNI specificity, not list order (§2.10).
public struct PassthroughRoutes: Sendable {
    /// Surviving routes, one per (rule, match entry), in VS order.
    public let routes: [TLSRouteMatch]
    private let index: SNIIndex

    init(routes: [TLSRouteMatch]) {
        self.routes = routes
        self.index = SNIIndex(routes.enumerated().flatMap { i, r in r.serverNames.map { ($0, i) } })
    }

    /// The route for a ClientHello SNI: exact name, then the longest `*.suffix` (`*.com` matches `a.b.com` and
    /// `b.com`), then a `*` route; no SNI only reaches a `*` route. nil closes the connection (§2.10, §0.1).
    public func route(forServerName sni: String?) -> TLSRouteMatch? {
        self.index.lookup(sni).map { self.routes[$0] }
    }
}

/// One surviving `tls[]` match entry of a VirtualService with its rule's weighted destinations (§2.10).
public struct TLSRouteMatch: Sendable {
    /// `ns/name` of the VirtualService.
    public let virtualService: String
    /// Index of the rule in the VirtualService's `tls[]`.
    public let index: Int
    /// Index of the entry in the rule's `match[]`.
    public let matchIndex: Int
    /// SNI names this entry claimed on the port (short names expanded, narrowed to the server hosts, names an
    /// earlier route or server already claimed removed).
    public let serverNames: [String]
    /// Never empty; weight-0 entries are dropped, a single destination gets weight 100 (§2.4).
    public let destinations: [WeightedDestination]
    /// Sum of `destinations[].weight`, always > 0.
    public let totalWeight: Int

    init(
        virtualService: String, index: Int, matchIndex: Int, serverNames: [String], destinations: [WeightedDestination]
    ) {
        self.virtualService = virtualService
        self.index = index
        self.matchIndex = matchIndex
        self.serverNames = serverNames
        self.destinations = destinations
        self.totalWeight = destinations.reduce(0) { $0 + $1.weight }
    }

    /// Weighted choice made independently per connection; `random` is any uniformly distributed number.
    public func pick(_ random: UInt64) -> WeightedDestination {
        WeightedDestination.pick(self.destinations, total: self.totalWeight, random: random)
    }
}

/// The route of a TCP server or terminating TLS server: the first fitting `tcp[]` rule of the first VS that has
/// one (§2.10); it is the only route set of the whole server.
public struct TCPRoute: Sendable {
    /// `ns/name` of the VirtualService.
    public let virtualService: String
    /// Index of the rule in the VirtualService's `tcp[]`.
    public let index: Int
    /// Never empty; weight-0 entries are dropped, a single destination gets weight 100 (§2.4).
    public let destinations: [WeightedDestination]
    /// Sum of `destinations[].weight`, always > 0.
    public let totalWeight: Int

    init(virtualService: String, index: Int, destinations: [WeightedDestination]) {
        self.virtualService = virtualService
        self.index = index
        self.destinations = destinations
        self.totalWeight = destinations.reduce(0) { $0 + $1.weight }
    }

    /// Weighted choice made independently per connection; `random` is any uniformly distributed number.
    public func pick(_ random: UInt64) -> WeightedDestination {
        WeightedDestination.pick(self.destinations, total: self.totalWeight, random: random)
    }
}

extension WeightedDestination {
    /// Weighted choice shared by `ForwardAction`, `TLSRouteMatch` and `TCPRoute` (§2.4: weight / total).
    static func pick(_ destinations: [WeightedDestination], total: Int, random: UInt64) -> WeightedDestination {
        if destinations.count == 1 || total <= 0 { return destinations[0] }
        var r = Int(random % UInt64(total))
        for d in destinations {
            if r < d.weight { return d }
            r -= d.weight
        }
        return destinations[destinations.count - 1]
    }
}

/// SNI name → value lookup with Envoy's server-name precedence (§0 step 2): a dictionary for exact names,
/// `*suffix` wildcards longest first, then `*`. An absent or empty SNI reaches only `*`.
struct SNIIndex: Sendable {
    private let exact: [String: Int]
    /// (suffix without `*`, value), longest suffix first; equal lengths keep insertion order.
    private let wildcards: [(suffix: String, value: Int)]
    private let catchAll: Int?

    /// `entries` are lower-cased names; the first entry of a name wins.
    init(_ entries: [(name: String, value: Int)]) {
        var exact: [String: Int] = [:]
        var wildcards: [(suffix: String, value: Int)] = []
        var catchAll: Int?
        for (name, value) in entries {
            if name == "*" {
                if catchAll == nil { catchAll = value }
            } else if name.hasPrefix("*") {
                let suffix = String(name.dropFirst())
                if !wildcards.contains(where: { $0.suffix == suffix }) { wildcards.append((suffix, value)) }
            } else if exact[name] == nil {
                exact[name] = value
            }
        }
        self.exact = exact
        self.wildcards = wildcards.enumerated().sorted {
            $0.element.suffix.utf8.count != $1.element.suffix.utf8.count
                ? $0.element.suffix.utf8.count > $1.element.suffix.utf8.count : $0.offset < $1.offset
        }.map(\.element)
        self.catchAll = catchAll
    }

    func lookup(_ sni: String?) -> Int? {
        guard let sni, !sni.isEmpty else { return self.catchAll }
        let key = sni.lowercased()
        if let v = self.exact[key] { return v }
        for w in self.wildcards where key.utf8.count > w.suffix.utf8.count && key.hasSuffix(w.suffix) {
            return w.value
        }
        return self.catchAll
    }
}
