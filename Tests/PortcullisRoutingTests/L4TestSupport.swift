import PortcullisModel

@testable import PortcullisRouting

/// `servers[<index>] <portName>` of the chain `sni` selects on `port`, or `closed`.
func chainFor(_ table: RoutingTable, port: Int, sni: String?) -> String {
    guard let c = table.listener(port: port)?.filterChain(forServerName: sni) else { return "closed" }
    return "servers[\(c.serverIndex)] \(c.server.portName)"
}

/// The kind of a chain's mode: `terminateHTTP`, `terminateTCP`, `passthrough`, `plainTCP`, or `closed`.
func modeFor(_ table: RoutingTable, port: Int, sni: String?) -> String {
    guard let c = table.listener(port: port)?.filterChain(forServerName: sni) else { return "closed" }
    switch c.mode {
    case .terminateHTTP: return "terminateHTTP"
    case .terminateTCP: return "terminateTCP"
    case .passthrough: return "passthrough"
    case .plainTCP: return "plainTCP"
    }
}

/// The passthrough route an SNI reaches on `port` (chain, then route), or nil.
func passthroughRoute(_ table: RoutingTable, port: Int, sni: String?) -> TLSRouteMatch? {
    guard case .passthrough(let routes) = table.listener(port: port)?.filterChain(forServerName: sni)?.mode
    else { return nil }
    return routes.route(forServerName: sni)
}

/// Destinations (`cluster weight`) of the passthrough route an SNI reaches, or `closed`.
func passthroughTarget(_ table: RoutingTable, port: Int, sni: String?) -> String {
    guard let r = passthroughRoute(table, port: port, sni: sni) else { return "closed" }
    return r.destinations.map { "\($0.cluster) \($0.weight)" }.joined(separator: ", ")
}

/// Destinations of the TCP route (plain or terminating) of the chain `sni` selects on `port`, or `none`.
func tcpTarget(_ table: RoutingTable, port: Int, sni: String? = nil) -> String {
    let destinations: [WeightedDestination]
    switch table.listener(port: port)?.filterChain(forServerName: sni)?.mode {
    case .plainTCP(let r?), .terminateTCP(let r?): destinations = r.destinations
    default: return "none"
    }
    return destinations.map { "\($0.cluster) \($0.weight)" }.joined(separator: ", ")
}

/// A Gateway `gw` in istio-system with the given `servers:` body (indented 2), then `---`.
func l4Gateway(_ servers: String, name: String = "gw", created: String = "2020-01-01T00:00:00Z") -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: \(name), namespace: istio-system, creationTimestamp: "\(created)"}
    spec:
      servers:
    \(servers)
    ---

    """
}

/// A VirtualService with the given hosts and route body (`tls:`/`tcp:`/`http:` lists, indented 2), then `---`.
func l4VS(
    _ name: String, ns: String = "default", hosts: String, gateways: String = "[istio-system/gw]",
    created: String = "2021-01-01T00:00:00Z", exportTo: String = "[]", _ body: String
) -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: \(name), namespace: \(ns), creationTimestamp: "\(created)"}
    spec:
      hosts: \(hosts)
      gateways: \(gateways)
      exportTo: \(exportTo)
    \(body)
    ---

    """
}
