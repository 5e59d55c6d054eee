extension Explainer {
    /// A TLS or TCP listener: the filter chain the URL host selects as SNI (ISTIO-SEMANTICS §0 step 2, §8.12),
    /// then the terminating server's HTTP route, or the passthrough/tcp route and its destinations (§2.10).
    static func explainFilterChain(_ listener: Listener, request: ExplainRequest) -> [String] {
        var out: [String] = []
        let sniText = request.sni ?? "none"
        if listener.kind == .tls { out.append("sni: \(sniText)") }
        guard let chain = listener.filterChain(forServerName: request.sni) else {
            let names = listener.filterChains.flatMap(\.serverNames).joined(separator: ", ")
            let known = "(server names: \(names.isEmpty ? "none" : names))"
            if listener.filterChains.isEmpty {
                out.append("no filter chain on this listener")
            } else if request.sni == nil {
                out.append("no catch-all filter chain for a connection without SNI \(known)")
            } else {
                out.append("no filter chain for SNI \(sniText) \(known)")
            }
            out.append("result: connection closed")
            return out
        }
        out.append(Self.serverLine(chain.server))
        let names = chain.serverNames.joined(separator: ", ")
        let mode = (chain.server.tls?.mode ?? .passthrough).rawValue
        switch chain.mode {
        case .terminateHTTP(let table):
            out.append("filter chain: terminate TLS (\(mode)), HTTP (server names: \(names))")
            out += Self.explainHTTP(table, request: request, serverPort: chain.server.portNumber)
        case .terminateTCP(let route):
            out.append("filter chain: terminate TLS (\(mode)), TCP proxy (server names: \(names))")
            out += Self.describeTCP(route)
        case .passthrough(let routes):
            out.append("filter chain: TLS passthrough (server names: \(names))")
            guard let r = routes.route(forServerName: request.sni) else {
                out.append("no tls route for SNI \(sniText)")
                out.append("result: connection closed")
                return out
            }
            let snis = r.serverNames.joined(separator: ", ")
            out.append(
                "virtual service: \(r.virtualService), route: tls[\(r.index)], match entry \(r.matchIndex)"
                    + " (sni hosts: \(snis))")
            out += Self.describeL4(r.destinations, total: r.totalWeight, verb: "tls passthrough")
        case .plainTCP(let route):
            out.append("filter chain: TCP proxy")
            out += Self.describeTCP(route)
        }
        return out
    }

    static func describeTCP(_ route: TCPRoute?) -> [String] {
        guard let route else {
            return [
                "no tcp route: no VirtualService bound to this server has a tcp rule for its port and gateway",
                "result: connection closed",
            ]
        }
        return ["virtual service: \(route.virtualService), route: tcp[\(route.index)]"]
            + Self.describeL4(route.destinations, total: route.totalWeight, verb: "tcp proxy")
    }

    static func describeL4(_ destinations: [WeightedDestination], total: Int, verb: String) -> [String] {
        var out: [String] = []
        for d in destinations {
            let share = Double(d.weight) * 100 / Double(max(total, 1))
            out.append("  destination: \(d.cluster) weight \(d.weight) (\(Self.percent(share)))")
        }
        out.append("result: \(verb) to \(destinations.map { "\($0.cluster)" }.joined(separator: " | "))")
        return out
    }
}
