/// One domain of a route table with its ordered routes (ISTIO-SEMANTICS §1.3, §2.8).
public final class VirtualHost: Sendable {
    /// `<domain>:<port>`, as Istio names gateway virtual hosts.
    public let name: String
    /// Lower-cased domains served (exact, `*.suffix`, partial `*suffix` or `*`).
    public let domains: [String]
    /// Set by `tls.httpsRedirect`: plaintext requests get 301 to https before any route is consulted.
    public let requireTLS: Bool
    /// Concatenated routes of every bound VirtualService, catch-alls last; first match wins.
    public let routes: [Route]

    init(name: String, domains: [String], requireTLS: Bool, routes: [Route]) {
        self.name = name
        self.domains = domains
        self.requireTLS = requireTLS
        self.routes = routes
    }

    /// The first route whose match entries accept `request`; nil means 404 (there is no fallthrough, §1.6).
    public func route(for request: some RoutableRequest) -> RouteMatchResult? {
        for r in self.routes {
            if let hit = r.match(request) { return hit }
        }
        return nil
    }
}

/// A route table (`http.<port>` for merged plaintext servers, `https.<port>.<portName>.<gw>.<ns>` for a
/// terminating server), with a lookup chosen at compile time (STYLE §9): a dictionary for exact domains, wildcard
/// suffixes longest first, then `*`.
public final class HTTPRouteTable: Sendable {
    public let name: String
    public let virtualHosts: [VirtualHost]
    private let exact: [String: Int]
    /// (suffix without `*`, vhost index), longest suffix first.
    private let wildcards: [(suffix: String, index: Int)]
    private let catchAll: Int?

    init(name: String, virtualHosts: [VirtualHost]) {
        self.name = name
        self.virtualHosts = virtualHosts
        var exact: [String: Int] = [:]
        var wildcards: [(suffix: String, index: Int)] = []
        var catchAll: Int?
        for (i, vh) in virtualHosts.enumerated() {
            for d in vh.domains {
                if d == "*" {
                    if catchAll == nil { catchAll = i }
                } else if d.hasPrefix("*") {
                    wildcards.append((String(d.dropFirst()), i))
                } else if exact[d] == nil {
                    exact[d] = i
                }
            }
        }
        self.exact = exact
        // Stable: equal lengths keep declaration order.
        self.wildcards = wildcards.enumerated().sorted {
            $0.element.suffix.utf8.count != $1.element.suffix.utf8.count
                ? $0.element.suffix.utf8.count > $1.element.suffix.utf8.count : $0.offset < $1.offset
        }.map(\.element)
        self.catchAll = catchAll
    }

    /// Virtual host for a `Host`/`:authority` value: the port is stripped and the comparison is
    /// case-insensitive; a trailing dot is kept, so `example.com.` does not match `example.com` (§1.6, §8.1).
    public func virtualHost(forHost host: Substring) -> VirtualHost? {
        let bare = Self.stripPort(host)
        let key = ASCII.hasUpper(bare.utf8) ? bare.lowercased() : String(bare)
        if let i = self.exact[key] { return self.virtualHosts[i] }
        let bytes = key.utf8
        for w in self.wildcards where bytes.count > w.suffix.utf8.count {
            // Byte comparison: both sides are lower-cased ASCII host names, so no Unicode work is needed.
            if bytes.suffix(w.suffix.utf8.count).elementsEqual(w.suffix.utf8) { return self.virtualHosts[w.index] }
        }
        return self.catchAll.map { self.virtualHosts[$0] }
    }

    /// The host without a trailing `:digits` port, scanning UTF-8 bytes (this runs for every request; the
    /// Character-based split was visible in profiles). `[v6]:port` keeps the brackets, as `HostPort.split` does.
    static func stripPort(_ host: Substring) -> Substring {
        let utf8 = host.utf8
        var index = utf8.endIndex
        while index > utf8.startIndex {
            let previous = utf8.index(before: index)
            let byte = utf8[previous]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                index = previous
                continue
            }
            if byte == UInt8(ascii: ":") {
                // IPv6 without brackets ("::1") has several colons: only a bracketed or single-colon form has a port.
                let head = host[..<previous]
                if head.first == "[" ? head.last == "]" : !head.utf8.contains(UInt8(ascii: ":")) { return head }
            }
            break
        }
        return host
    }
}

/// Authority helpers shared with the data plane, so routing and the proxy agree on what "the host" of a Host
/// header is.
public enum Authority {
    /// The host of an authority without its port (`[v6]` keeps its brackets), exactly as virtual-host lookup sees it.
    public static func host(_ authority: Substring) -> Substring {
        HTTPRouteTable.stripPort(authority)
    }
}
