import PortcullisModel

extension RouteCompiler {
    /// A VirtualService visible from the gateway workload's namespace, with its expanded hosts and gateways.
    struct VisibleVS {
        let index: Int
        let vs: VirtualService
        let hosts: [String]
        let gateways: Set<String>
    }

    /// VirtualServices visible from the gateway's namespace (§2.1 `exportTo`, §6), in Istio's gateway order:
    /// private ones of that namespace, then ones explicitly exported to it, then public ones; each group by
    /// creationTimestamp, name, namespace (§2.8).
    static func orderedVirtualServices(_ config: ConfigSet, options: RoutingOptions) -> [VisibleVS] {
        var keyed: [(group: Int, key: (String, String, String), vs: VisibleVS)] = []
        for (i, vs) in config.virtualServices.enumerated() {
            guard let group = self.visibilityGroup(vs, gatewayNamespace: options.gatewayNamespace) else { continue }
            let ns = vs.meta.namespace
            let visible = VisibleVS(
                index: i, vs: vs,
                hosts: vs.hosts.map { HostNames.expand($0, namespace: ns, domain: options.domain).lowercased() },
                gateways: Set(vs.gateways.map { HostNames.gatewayID($0, vsNamespace: ns) }))
            keyed.append((group, self.orderKey(vs.meta), visible))
        }
        keyed.sort { a, b in a.group != b.group ? a.group < b.group : a.key < b.key }
        return keyed.map(\.vs)
    }

    /// Whether `vs` is exported to `namespace` (§2.1 `exportTo`; used for delegates, §2.9).
    static func visible(_ vs: VirtualService, from namespace: String) -> Bool {
        let export = vs.exportTo
        if export.isEmpty || export.contains("*") { return true }
        if export.contains("~") { return false }
        if namespace == vs.meta.namespace && export.contains(".") { return true }
        return export.contains(namespace)
    }

    /// 0 = private to the gateway's namespace, 1 = exported to it by name, 2 = public, nil = not visible.
    static func visibilityGroup(_ vs: VirtualService, gatewayNamespace: String) -> Int? {
        let export = vs.exportTo
        if export.isEmpty || export.contains("*") { return 2 }
        if export.contains("~") { return nil }
        let own = vs.meta.namespace
        if own == gatewayNamespace && (export.contains(".") || export.contains(own)) { return 0 }
        return export.contains(gatewayNamespace) ? 1 : nil
    }

    /// Builds one route table from `servers` (§1.3, §2.8): each (server host ∩ VS host) is a virtual host; bound
    /// VSes append their routes in order; catch-all routes move last; `httpsRedirect` servers mark their vhosts
    /// require-TLS and get route-less vhosts for hosts no VS binds.
    static func buildTable(
        name: String, servers: [BoundServer], port: Int, honourRedirect: Bool, virtualServices: [VisibleVS],
        state: CompileState
    ) -> HTTPRouteTable {
        var order: [String] = []
        var routes: [String: [Route]] = [:]
        var requireTLS: [String: Bool] = [:]
        var seen: Set<String> = []
        for s in servers {
            let gwID = s.gatewayID
            let redirect = honourRedirect && (s.server.tls?.httpsRedirect ?? false)
            let serverHosts = HostNames.serverHosts(s.server.hosts, gatewayNamespace: s.gateway.meta.namespace)
            for v in virtualServices where v.gateways.contains(gwID) {
                var matched: [String] = []
                for vh in v.hosts {
                    for sh in serverHosts where sh.namespace == nil || sh.namespace == v.vs.meta.namespace {
                        if let h = HostNames.intersect(sh.host, vh), !matched.contains(h) { matched.append(h) }
                    }
                }
                if matched.isEmpty { continue }
                let cacheKey = "\(v.index)|\(gwID)|\(port)"
                let translated: [Route]
                if let cached = state.routeCache[cacheKey] {
                    translated = cached
                } else {
                    translated = RouteTranslator(state: state, vs: v.vs, gateway: gwID, port: port).translate()
                    state.routeCache[cacheKey] = translated
                }
                for h in matched {
                    if routes[h] == nil {
                        order.append(h)
                        routes[h] = []
                    }
                    if redirect { requireTLS[h] = true }
                    if seen.insert("\(h)|\(cacheKey)").inserted { routes[h]! += translated }
                }
            }
            for sh in serverHosts {
                if routes[sh.host] == nil {
                    guard redirect else { continue }
                    order.append(sh.host)
                    routes[sh.host] = []
                }
                if redirect { requireTLS[sh.host] = true }
            }
        }
        let vhosts = order.map { h in
            let all = routes[h] ?? []
            let sorted = all.filter { !$0.isCatchAll } + all.filter(\.isCatchAll)
            return VirtualHost(name: "\(h):\(port)", domains: [h], requireTLS: requireTLS[h] ?? false, routes: sorted)
        }
        return HTTPRouteTable(name: name, virtualHosts: vhosts)
    }
}
