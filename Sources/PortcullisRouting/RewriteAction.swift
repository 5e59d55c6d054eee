/// `rewrite` of a forwarding route (ISTIO-SEMANTICS §2.6); the query string is never touched.
public struct RewriteAction: Sendable {
    /// Host sent upstream instead of the original authority (`rewrite.authority` or a route-level
    /// `host`/`:authority` header write, §2.4).
    public let authority: String?
    /// `rewrite.uri`: replaces the matched prefix.
    public let uri: String?
    let regexRewrite: (regex: CompiledRegex, template: String)?

    init(authority: String?, uri: String?, regexRewrite: (regex: CompiledRegex, template: String)?) {
        self.authority = authority
        self.uri = uri
        self.regexRewrite = regexRewrite
    }

    /// New path (query not included) per §2.6: a prefix match replaces the matched prefix; exact and regex
    /// matches replace the whole path; no uri match replaces the leading `/`; `uriRegexRewrite` substitutes every
    /// match, expanding `\1`… groups.
    public func rewritePath(_ path: String, matcher: RouteMatcher?) -> String {
        if let rr = self.regexRewrite { return rr.regex.replaceAll(in: path, template: rr.template) }
        guard let uri = self.uri else { return path }
        return Self.replacePrefix(path, with: uri, matcher: matcher)
    }

    /// Envoy `prefix_rewrite` as Istio configures it; shared with `redirect.prefixRewrite` (§8.5).
    static func replacePrefix(_ path: String, with replacement: String, matcher: RouteMatcher?) -> String {
        guard let m = matcher?.uri else {
            // No uri match: Istio's Envoy route uses prefix "/", so exactly "/" is replaced.
            return path.hasPrefix("/") ? replacement + path.dropFirst() : replacement + path
        }
        switch m.kind {
        case .prefix:
            let n = m.pattern.utf8.count
            guard path.utf8.count >= n else { return replacement }
            let rest = path.utf8.dropFirst(n)
            return replacement + (Substring(rest))
        case .present where m.pattern.isEmpty:
            return path.hasPrefix("/") ? replacement + path.dropFirst() : replacement + path
        case .exact, .regex, .present:
            return replacement
        }
    }
}

/// `redirect` (ISTIO-SEMANTICS §2.5, §8.17).
public struct RedirectAction: Sendable {
    /// 301 unless `redirectCode` says otherwise.
    public let code: Int
    public let uri: String?
    public let prefixRewrite: String?
    public let authority: String?
    /// Explicit port, or the port derived at config time (`FROM_REQUEST_PORT` = declared server port).
    public let port: Int?
    /// `FROM_PROTOCOL_DEFAULT`: the final scheme's default port (hence omitted from `Location`).
    public let protocolDefaultPort: Bool
    public let scheme: String?

    /// The `Location` value. Default ports are omitted; when the host is kept, its port is dropped if a new
    /// port is set, or if the scheme changes and the old port was the old scheme's default. The query is kept
    /// unless `uri` has its own.
    public func location(
        path: String, query: Substring?, authority: String, scheme: String, serverPort: Int, matcher: RouteMatcher?
    ) -> String {
        let finalScheme = self.scheme ?? scheme
        let defaultPort = finalScheme == "https" ? 443 : (finalScheme == "http" ? 80 : nil)
        let newPort: Int? = self.protocolDefaultPort ? defaultPort : self.port
        var host: String
        if let a = self.authority {
            host = a
        } else {
            let (bare, oldPort) = HostPort.split(authority)
            host = authority
            if let oldPort {
                var strip = newPort != nil
                if finalScheme != scheme {
                    strip = strip || (scheme == "https" && oldPort == "443") || (scheme == "http" && oldPort == "80")
                }
                if strip { host = String(bare) }
            }
        }
        if let p = newPort, p != defaultPort { host += ":\(p)" }
        var newPath: String
        var newQuery = query
        if let uri = self.uri {
            if let q = uri.firstIndex(of: "?") {
                newPath = String(uri[..<q])
                newQuery = uri[uri.index(after: q)...]
            } else {
                newPath = uri
            }
        } else if let pr = self.prefixRewrite {
            newPath = RewriteAction.replacePrefix(path, with: pr, matcher: matcher)
        } else {
            newPath = path
        }
        if newPath.isEmpty { newPath = "/" }
        var out = finalScheme + "://" + host + newPath
        if let q = newQuery, !q.isEmpty { out += "?" + q }
        return out
    }

    /// `tls.httpsRedirect` target: `https://<Host as sent, port kept><path>?<query>` with 301 (§1.4, §8.17).
    public static func httpsRedirectLocation(path: String, query: Substring?, authority: String) -> String {
        var out = "https://" + authority + path
        if let q = query, !q.isEmpty { out += "?" + q }
        return out
    }
}

/// Splitting `host[:port]`, IPv6 literals included (`[::1]:8080`).
enum HostPort {
    /// Host part and, when present and all digits, the port text.
    static func split<S: StringProtocol>(_ authority: S) -> (host: S.SubSequence, port: S.SubSequence?) {
        let all = authority[...]
        if authority.first == "[" {
            guard let close = authority.lastIndex(of: "]") else { return (all, nil) }
            let after = authority.index(after: close)
            if after < authority.endIndex, authority[after] == ":" {
                return (authority[..<after], authority[authority.index(after: after)...])
            }
            return (all, nil)
        }
        guard let colon = authority.lastIndex(of: ":") else { return (all, nil) }
        let port = authority[authority.index(after: colon)...]
        guard port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return (all, nil) }
        return (authority[..<colon], port)
    }
}
