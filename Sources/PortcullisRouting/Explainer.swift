/// `portcullis explain`: what the compiled table does with one request, or exactly why nothing matched
/// (ARCHITECTURE layer 2 "explain(request)"; local replies per ISTIO-SEMANTICS §0.1).
public enum Explainer {
    /// Human-readable, multi-line: listener, Gateway server(s), virtual host, VirtualService and route hit and
    /// what it does, or why nothing matched. `port` nil = the first HTTP listener. `url` is absolute
    /// (`http://host:port/path?q`) or origin-form (`/path?q`, then a `Host` header is expected).
    /// Human-readable, multi-line: listener, Gateway server(s), virtual host, VirtualService and route hit and
    /// what it does, or why nothing matched. `port` nil = the first HTTP listener, or for an `https` URL the
    /// TLS listener on 443, else the first TLS listener. `url` is absolute (`http://host:port/path?q`) or
    /// origin-form (`/path?q`, then a `Host` header is expected). On a TLS or TCP listener the filter chain is
    /// chosen first, with the URL host as SNI (ISTIO-SEMANTICS §0 step 2, §2.10).
    public static func explain(
        table: RoutingTable, port: Int?, method: String, url: String, headers: [(String, String)]
    ) -> String {
        let request = ExplainRequest(method: method, url: url, headers: headers)
        var out: [String] = []
        guard let listener = Self.listener(table, port: port, scheme: request.scheme) else {
            let ports = table.listeners.map { "\($0.port)" }.joined(separator: ", ")
            let known = "(listeners: \(ports.isEmpty ? "none" : ports))"
            if let p = port {
                out.append("no listener on port \(p) \(known)")
            } else {
                out.append("no \(request.scheme == "https" ? "TLS" : "HTTP") listener \(known)")
            }
            out.append("result: connection refused")
            return out.joined(separator: "\n")
        }
        out.append("listener: \(listener.bind):\(listener.port) (\(listener.kind))")
        if listener.kind == .http, let routes = listener.httpRoutes {
            out += listener.servers.map(Self.serverLine)
            let serverPort = listener.servers.first?.portNumber ?? listener.port
            out += Self.explainHTTP(routes, request: request, serverPort: serverPort)
        } else {
            out += Self.explainFilterChain(listener, request: request)
        }
        return out.joined(separator: "\n")
    }

    /// The listener `explain` looks at: `port`'s, else the first HTTP one, or for `https` the TLS one on 443 or
    /// else the first TLS one.
    static func listener(_ table: RoutingTable, port: Int?, scheme: String) -> Listener? {
        if let port { return table.listener(port: port) }
        guard scheme == "https" else { return table.listeners.first { $0.kind == .http } }
        return table.listeners.first { $0.kind == .tls && $0.port == 443 } ?? table.listeners.first { $0.kind == .tls }
    }

    static func serverLine(_ s: ServerInfo) -> String {
        let hosts = s.hosts.joined(separator: ", ")
        return "server: \(s.gateway) servers[\(s.index)] (\(s.portName) \(s.protocol.rawValue) \(s.portNumber);"
            + " hosts: \(hosts))"
    }

    /// Route table → virtual host → route, or why nothing matched.
    static func explainHTTP(_ table: HTTPRouteTable, request: ExplainRequest, serverPort: Int) -> [String] {
        var out: [String] = []
        out.append("route table: \(table.name)")
        guard let vhost = table.virtualHost(forHost: request.authority[...]) else {
            let names = table.virtualHosts.flatMap(\.domains).joined(separator: ", ")
            let known = names.isEmpty ? "none" : names
            out.append("no virtual host for host \(request.authority) (virtual hosts: \(known))")
            out.append("result: 404 (NR)")
            return out
        }
        out.append("virtual host: \(vhost.name) (domains: \(vhost.domains.joined(separator: ", ")))")
        if vhost.requireTLS && request.scheme == "http" {
            let loc = RedirectAction.httpsRedirectLocation(
                path: request.path, query: request.query, authority: request.authority)
            out.append("requires TLS (httpsRedirect)")
            out.append("result: 301 Location: \(loc)")
            return out
        }
        guard let hit = vhost.route(for: request) else {
            out.append("no route in virtual host \(vhost.name) matched (\(vhost.routes.count) routes)")
            out.append("result: 404 (NR)")
            return out
        }
        return out + Self.describe(hit, request: request, serverPort: serverPort)
    }
}
