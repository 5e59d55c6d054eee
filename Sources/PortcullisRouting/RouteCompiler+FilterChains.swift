import PortcullisModel

extension RouteCompiler {
    /// The filter chains of a `.tls` or `.tcp` listener, one per surviving server (ISTIO-SEMANTICS §0 step 2,
    /// §1.4, §1.5, §2.10). `serverRoutes` holds the tables already built for terminating HTTPS servers.
    ///
    /// Server names of terminating and TCP servers are claimed first (merging already dropped servers repeating
    /// a host, §1.5); PASSTHROUGH routes then claim their SNI names in server, VS and rule order, and a name
    /// claimed before is skipped with a warning (§2.10).
    static func buildFilterChains(
        group g: ServerGroup, serverRoutes: [HTTPRouteTable?], virtualServices: [VisibleVS], state: CompileState
    ) -> [FilterChain] {
        var claimed: Set<String> = []
        for s in g.servers where !Self.isPassthrough(s) { claimed.formUnion(s.info.sniHosts) }
        var chains: [FilterChain] = []
        for (i, s) in g.servers.enumerated() {
            let bound = Self.boundVirtualServices(s, virtualServices)
            var names = s.info.sniHosts
            let mode: FilterChainMode
            if let table = serverRoutes[i] {
                Self.reportMismatches(s, bound, expecting: "http", state: state)
                mode = .terminateHTTP(table)
            } else if Self.isPassthrough(s) {
                Self.reportMismatches(s, bound, expecting: "tls", state: state)
                let routes = Self.passthroughRoutes(s, bound, listener: g, claimed: &claimed, state: state)
                names = routes.flatMap(\.serverNames)
                mode = .passthrough(PassthroughRoutes(routes: routes))
            } else if s.info.protocol.isTLSFamily {
                mode = .terminateTCP(Self.tcpRoute(s, bound, state: state))
            } else {
                mode = .plainTCP(Self.tcpRoute(s, bound, state: state))
            }
            chains.append(FilterChain(serverIndex: i, server: s.info, serverNames: names, mode: mode))
        }
        return chains
    }

    /// A TLS-family server that does not terminate: `tls.mode` PASSTHROUGH, the enum default (§1.4, §8.11), or
    /// AUTO_PASSTHROUGH.
    static func isPassthrough(_ s: BoundServer) -> Bool {
        guard s.info.protocol.isTLSFamily else { return false }
        let mode = s.server.tls?.mode ?? .passthrough
        return mode == .passthrough || mode == .autoPassthrough
    }

    /// VSes bound to the server: listing its Gateway and sharing a host with it, a server host's namespace part
    /// restricting which VS namespaces may bind (§1.3, §2.10); in VS order (§2.8).
    static func boundVirtualServices(_ s: BoundServer, _ virtualServices: [VisibleVS]) -> [VisibleVS] {
        let serverHosts = HostNames.serverHosts(s.server.hosts, gatewayNamespace: s.gateway.meta.namespace)
        return virtualServices.filter { v in
            v.gateways.contains(s.gatewayID)
                && v.hosts.contains { vh in
                    serverHosts.contains {
                        ($0.namespace == nil || $0.namespace == v.vs.meta.namespace)
                            && HostNames.intersect($0.host, vh) != nil
                    }
                }
        }
    }

    /// Whether an L4 match entry survives at this server: `port` is the declared server port (or unset) and
    /// `gateways` names this Gateway (or is empty). Source and subnet conditions do not apply at a gateway.
    static func l4Applies(port: Int?, gateways: [String], _ v: VisibleVS, _ s: BoundServer) -> Bool {
        if let port, port != s.info.portNumber { return false }
        let ns = v.vs.meta.namespace
        return gateways.isEmpty || gateways.contains { HostNames.gatewayID($0, vsNamespace: ns) == s.gatewayID }
    }

    /// "Gateway to VirtualService TLS mismatch" (§2.10, §8.11): a terminating HTTPS server takes only `http[]`
    /// routes and a PASSTHROUGH server only `tls[]` routes, so a bound VS that has rules for this server of the
    /// other kind only routes nothing here. Warned once per VS and server.
    static func reportMismatches(
        _ s: BoundServer, _ bound: [VisibleVS], expecting: String, state: CompileState
    ) {
        for v in bound {
            let httpFits = v.vs.http.contains { r in
                r.match.isEmpty || r.match.contains { Self.l4Applies(port: $0.port, gateways: $0.gateways, v, s) }
            }
            let tlsFits = v.vs.tls.contains { r in
                r.match.contains { Self.l4Applies(port: $0.port, gateways: $0.gateways, v, s) }
            }
            let (has, other) = expecting == "http" ? (!v.vs.http.isEmpty, tlsFits) : (!v.vs.tls.isEmpty, httpFits)
            guard !has, other else { continue }
            let otherKind = expecting == "http" ? "tls" : "http"
            let mode = (s.server.tls?.mode ?? .passthrough).rawValue
            state.report(
                .warning, kind: "VirtualService", meta: v.vs.meta, path: "spec.\(otherKind)",
                "Gateway to VirtualService TLS mismatch: server \(s.gatewayID) servers[\(s.info.index)] "
                    + "(\(s.info.portName) \(s.info.protocol.rawValue) \(s.info.portNumber), tls mode \(mode)) "
                    + "takes \(expecting) routes but VirtualService \(v.vs.meta.namespace)/\(v.vs.meta.name) "
                    + "has only \(otherKind) routes for it; nothing is routed")
        }
    }

    /// PASSTHROUGH routes (§2.10): every `tls[]` match entry surviving `port`/`gateways` keeps the SNI names
    /// (short names expanded with the VS namespace) that lie within the VS hosts and intersect a server host the
    /// VS may bind to, the more specific name kept; names already claimed on the listener are skipped with a
    /// warning. AUTO_PASSTHROUGH (SNI-encoded upstreams, multi-network) is not supported and routes nothing.
    static func passthroughRoutes(
        _ s: BoundServer, _ bound: [VisibleVS], listener g: ServerGroup, claimed: inout Set<String>,
        state: CompileState
    ) -> [TLSRouteMatch] {
        if s.server.tls?.mode == .autoPassthrough {
            state.report(
                .warning, kind: "Gateway", meta: s.gateway.meta, path: "spec.servers[\(s.info.index)].tls.mode",
                "AUTO_PASSTHROUGH is not supported; server routes nothing")
            return []
        }
        let serverHosts = HostNames.serverHosts(s.server.hosts, gatewayNamespace: s.gateway.meta.namespace)
        var out: [TLSRouteMatch] = []
        for v in bound {
            let ns = v.vs.meta.namespace
            let allowed = serverHosts.filter { $0.namespace == nil || $0.namespace == ns }.map(\.host)
            for (i, rule) in v.vs.tls.enumerated() {
                var destinations: [WeightedDestination]?
                for (j, m) in rule.match.enumerated()
                where Self.l4Applies(port: m.port, gateways: m.gateways, v, s) {
                    let path = "spec.tls[\(i)].match[\(j)].sniHosts"
                    var names: [String] = []
                    for raw in m.sniHosts {
                        let sni = HostNames.expand(raw, namespace: ns, domain: state.options.domain).lowercased()
                        guard v.hosts.contains(where: { HostNames.covers($0, sni) }) else { continue }
                        for h in allowed {
                            if let x = HostNames.intersect(h, sni), !names.contains(x) { names.append(x) }
                        }
                    }
                    var kept: [String] = []
                    for n in names {
                        if claimed.contains(n) {
                            state.report(
                                .warning, kind: "VirtualService", meta: v.vs.meta, path: path,
                                "SNI host \(n) is already claimed on \(g.bind):\(g.port); skipped for this route")
                        } else {
                            kept.append(n)
                        }
                    }
                    if kept.isEmpty { continue }
                    let d = destinations ?? Self.l4Destinations(rule.route, v, "spec.tls[\(i)]", s, state: state)
                    destinations = d
                    if d.isEmpty { continue }
                    claimed.formUnion(kept)
                    out.append(
                        TLSRouteMatch(
                            virtualService: "\(ns)/\(v.vs.meta.name)", index: i, matchIndex: j, serverNames: kept,
                            destinations: d))
                }
            }
        }
        return out
    }

    /// The route of a TCP or terminating TLS server (§2.10): the first `tcp[]` rule, in the first bound VS that
    /// has one, whose match list is empty or has an entry with a fitting `port` and `gateways`.
    static func tcpRoute(_ s: BoundServer, _ bound: [VisibleVS], state: CompileState) -> TCPRoute? {
        for v in bound {
            for (i, rule) in v.vs.tcp.enumerated()
            where rule.match.isEmpty || rule.match.contains(where: {
                Self.l4Applies(port: $0.port, gateways: $0.gateways, v, s)
            }) {
                let d = Self.l4Destinations(rule.route, v, "spec.tcp[\(i)]", s, state: state)
                if d.isEmpty { continue }
                return TCPRoute(virtualService: "\(v.vs.meta.namespace)/\(v.vs.meta.name)", index: i, destinations: d)
            }
        }
        return nil
    }

    /// Weighted destinations of an L4 rule (§2.4): a single destination gets 100, weight-0 ones are dropped; the
    /// port defaults to the ServiceEntry's only port, else the server's declared port; each cluster is recorded.
    static func l4Destinations(
        _ route: [RouteDestination], _ v: VisibleVS, _ path: String, _ s: BoundServer, state: CompileState
    ) -> [WeightedDestination] {
        let single = route.count == 1
        var out: [WeightedDestination] = []
        for (k, d) in route.enumerated() {
            let weight = single ? 100 : (d.weight ?? 0)
            if weight <= 0 { continue }
            let key = state.clusterKey(d.destination, namespace: v.vs.meta.namespace, serverPort: s.info.portNumber)
            if let subset = key.subset, !state.subsetKnown(host: key.host, subset: subset) {
                state.report(
                    .warning, kind: "VirtualService", meta: v.vs.meta, path: "\(path).route[\(k)].destination.subset",
                    "subset \(subset) of \(key.host) is not defined by any DestinationRule (connections are closed)")
            }
            out.append(
                WeightedDestination(
                    cluster: key, weight: weight, requestHeaders: .empty, responseHeaders: .empty, authority: nil))
        }
        return out
    }
}
