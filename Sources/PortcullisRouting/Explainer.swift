/// `portcullis explain`: what the compiled table does with one request, or exactly why nothing matched
/// (ARCHITECTURE layer 2 "explain(request)"; local replies per ISTIO-SEMANTICS §0.1).
public enum Explainer {
    /// Human-readable, multi-line: listener, Gateway server(s), virtual host, VirtualService and route hit and
    /// what it does, or why nothing matched. `port` nil = the first HTTP listener. `url` is absolute
    /// (`http://host:port/path?q`) or origin-form (`/path?q`, then a `Host` header is expected).
    public static func explain(
        table: RoutingTable, port: Int?, method: String, url: String, headers: [(String, String)]
    ) -> String {
        let request = ExplainRequest(method: method, url: url, headers: headers)
        var out: [String] = []
        let effectivePort = port
        let listener: Listener?
        if let p = effectivePort {
            listener = table.listener(port: p)
        } else {
            listener = table.listeners.first { $0.kind == .http }
        }
        guard let listener else {
            let ports = table.listeners.map { "\($0.port)" }.joined(separator: ", ")
            if let p = effectivePort {
                out.append("no listener on port \(p) (listeners: \(ports.isEmpty ? "none" : ports))")
            } else {
                out.append("no HTTP listener (listeners: \(ports.isEmpty ? "none" : ports))")
            }
            out.append("result: connection refused")
            return out.joined(separator: "\n")
        }
        out.append("listener: \(listener.bind):\(listener.port) (\(listener.kind))")
        var routes = listener.httpRoutes
        var servers = listener.servers
        if routes == nil {
            let host = HostPort.split(request.authority).host.lowercased()
            if let i = Self.serverIndex(listener.servers, sni: host), let t = listener.serverRoutes[i] {
                routes = t
                servers = [listener.servers[i]]
            }
        }
        for s in servers {
            let hosts = s.hosts.joined(separator: ", ")
            out.append(
                "server: \(s.gateway) servers[\(s.index)] (\(s.portName) \(s.protocol.rawValue) \(s.portNumber);"
                    + " hosts: \(hosts))")
        }
        guard let table = routes else {
            out.append("no HTTP route table on this listener for SNI \(request.authority) (TLS/TCP routing)")
            out.append("result: connection closed")
            return out.joined(separator: "\n")
        }
        out.append("route table: \(table.name)")
        guard let vhost = table.virtualHost(forHost: request.authority[...]) else {
            let names = table.virtualHosts.flatMap(\.domains).joined(separator: ", ")
            let known = names.isEmpty ? "none" : names
            out.append("no virtual host for host \(request.authority) (virtual hosts: \(known))")
            out.append("result: 404 (NR)")
            return out.joined(separator: "\n")
        }
        out.append("virtual host: \(vhost.name) (domains: \(vhost.domains.joined(separator: ", ")))")
        if vhost.requireTLS && request.scheme == "http" {
            let loc = RedirectAction.httpsRedirectLocation(
                path: request.path, query: request.query, authority: request.authority)
            out.append("requires TLS (httpsRedirect)")
            out.append("result: 301 Location: \(loc)")
            return out.joined(separator: "\n")
        }
        guard let hit = vhost.route(for: request) else {
            out.append("no route in virtual host \(vhost.name) matched (\(vhost.routes.count) routes)")
            out.append("result: 404 (NR)")
            return out.joined(separator: "\n")
        }
        out += Self.describe(hit, request: request, serverPort: servers.first?.portNumber ?? listener.port)
        return out.joined(separator: "\n")
    }

    /// SNI choice for explain: exact name, then the longest wildcard, then a `*` server.
    static func serverIndex(_ servers: [ServerInfo], sni: String) -> Int? {
        if let i = servers.firstIndex(where: { $0.sniHosts.contains(sni) }) { return i }
        var best: (index: Int, length: Int)?
        for (i, s) in servers.enumerated() {
            for h in s.sniHosts where h != "*" && HostNames.wildcard(h, matches: sni) {
                if best == nil || h.count > best!.length { best = (i, h.count) }
            }
        }
        return best?.index ?? servers.firstIndex { $0.sniHosts.contains("*") }
    }
}
