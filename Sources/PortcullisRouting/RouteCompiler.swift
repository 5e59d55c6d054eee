import PortcullisModel

/// Result of compiling a config: the table plus diagnostics. Any `.error` diagnostic means the snapshot should be
/// rejected (the table is still returned so tools can explain what would have been served).
public struct RouteCompileResult: Sendable {
    public let table: RoutingTable
    public let diagnostics: [ConfigDiagnostic]

    /// True when no diagnostic has `.error` severity.
    public var isAccepted: Bool { !self.diagnostics.contains { $0.severity == .error } }
}

/// Compiles a validated `ConfigSet` into a `RoutingTable` (ISTIO-SEMANTICS §0–§2; STYLE §7).
public enum RouteCompiler {
    /// Selects our Gateways, merges their servers per (bind, port), binds VirtualServices and translates routes.
    public static func compile(_ config: ConfigSet, options: RoutingOptions) -> RouteCompileResult {
        let state = CompileState(config: config, options: options)
        let gateways = self.selectedGateways(config, options: options)
        let groups = self.mergeServers(gateways, state: state)
        let ordered = self.orderedVirtualServices(config, options: options)
        var listeners: [Listener] = []
        for g in groups {
            let servers = g.servers.map(\.info)
            switch g.kind {
            case .http:
                let table = self.buildTable(
                    name: "http.\(g.port)", servers: g.servers, port: g.port, honourRedirect: true,
                    virtualServices: ordered, state: state)
                listeners.append(
                    Listener(
                        bind: g.bind, port: g.port, kind: .http, servers: servers, httpRoutes: table,
                        serverRoutes: servers.map { _ in nil }))
            case .tls, .tcp:
                var perServer: [HTTPRouteTable?] = []
                for s in g.servers {
                    if s.info.terminatesHTTPS {
                        let gw = s.gateway.meta
                        let name = "https.\(g.port).\(s.info.portName).\(gw.name).\(gw.namespace)"
                        perServer.append(
                            self.buildTable(
                                name: name, servers: [s], port: g.port, honourRedirect: false,
                                virtualServices: ordered, state: state))
                    } else {
                        perServer.append(nil)
                    }
                }
                let chains = self.buildFilterChains(
                    group: g, serverRoutes: perServer, virtualServices: ordered, state: state)
                listeners.append(
                    Listener(
                        bind: g.bind, port: g.port, kind: g.kind, servers: servers, httpRoutes: nil,
                        serverRoutes: perServer, filterChains: chains))
            }
        }
        listeners.sort { ($0.port, $0.bind) < ($1.port, $1.bind) }
        let table = RoutingTable(listeners: listeners, clusterKeys: state.clusterKeys)
        return RouteCompileResult(table: table, diagnostics: state.diagnostics)
    }

    /// Gateways whose selector is a subset of our labels (all when `gatewayLabels` is nil), oldest first:
    /// creationTimestamp, then name, then namespace (§1.1).
    static func selectedGateways(_ config: ConfigSet, options: RoutingOptions) -> [Gateway] {
        config.gateways.filter { gw in
            guard let labels = options.gatewayLabels else { return true }
            return gw.selector.allSatisfy { labels[$0.key] == $0.value }
        }.sorted { a, b in
            Self.orderKey(a.meta) < Self.orderKey(b.meta)
        }
    }

    static func orderKey(_ m: ObjectMeta) -> (String, String, String) {
        (m.creationTimestamp ?? "", m.name, m.namespace)
    }

    /// A Gateway server with its Gateway and public summary.
    struct BoundServer {
        let gateway: Gateway
        let server: Server
        let info: ServerInfo
        var gatewayID: String { "\(self.gateway.meta.namespace)/\(self.gateway.meta.name)" }
    }

    struct ServerGroup {
        let bind: String
        let port: Int
        let kind: ListenerKind
        var servers: [BoundServer]
    }

    /// `mergeGateways` (§1.5): plaintext HTTP servers merge; TLS servers stay separate unless a host repeats;
    /// mixing plaintext and TLS, or two TCP servers, rejects the later server.
    static func mergeServers(_ gateways: [Gateway], state: CompileState) -> [ServerGroup] {
        var groups: [ServerGroup] = []
        for gw in gateways {
            for (i, server) in gw.servers.enumerated() {
                let p = server.port.protocol
                let kind: ListenerKind = p.isHTTPFamily ? .http : (p.isTLSFamily ? .tls : .tcp)
                let info = ServerInfo(
                    gateway: "\(gw.meta.namespace)/\(gw.meta.name)", index: i, portName: server.port.name,
                    portNumber: server.port.number, protocol: p, hosts: server.hosts,
                    sniHosts: HostNames.serverHosts(server.hosts, gatewayNamespace: gw.meta.namespace).map(\.host),
                    tls: server.tls)
                let bound = BoundServer(gateway: gw, server: server, info: info)
                let bind = server.bind ?? "0.0.0.0"
                let path = "spec.servers[\(i)]"
                guard let g = groups.firstIndex(where: { $0.bind == bind && $0.port == server.port.number }) else {
                    groups.append(ServerGroup(bind: bind, port: server.port.number, kind: kind, servers: [bound]))
                    continue
                }
                let existing = groups[g]
                if existing.kind != kind || kind == .tcp {
                    state.report(
                        .warning, kind: "Gateway", meta: gw.meta, path: path,
                        "conflicts with an earlier server on \(bind):\(server.port.number); server ignored")
                    continue
                }
                if kind == .tls {
                    let used = Set(existing.servers.flatMap(\.info.sniHosts))
                    if let dup = info.sniHosts.first(where: used.contains) {
                        state.report(
                            .warning, kind: "Gateway", meta: gw.meta, path: path,
                            "host \(dup) already served on \(bind):\(server.port.number); server ignored")
                        continue
                    }
                }
                groups[g].servers.append(bound)
            }
        }
        return groups
    }
}
