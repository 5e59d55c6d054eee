import PortcullisRouting

/// CORS (ISTIO-SEMANTICS §2.7.4): allowed preflights are answered here with 200; allowed actual requests get the
/// origin echoed (never `*`) on whatever response they receive.
extension ProxyExchange {
    /// Handles CORS for the matched route. Returns true when the request was answered (a preflight).
    func handleCORS(_ cors: RouteCORS) -> Bool {
        guard let origin = self.head.headers.first("origin") else { return false }
        let allowed = cors.allowsOrigin(origin)
        let isPreflight = self.head.method == "OPTIONS" && self.head.headers.contains("access-control-request-method")
        if isPreflight {
            if allowed {
                var headers: [(String, String)] = [("access-control-allow-origin", origin)]
                if let methods = cors.allowMethods { headers.append(("access-control-allow-methods", methods)) }
                if let allowHeaders = cors.allowHeaders { headers.append(("access-control-allow-headers", allowHeaders)) }
                if let maxAge = cors.maxAgeSeconds { headers.append(("access-control-max-age", String(maxAge))) }
                if cors.allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
                self.sendLocalReply(status: 200, body: nil, details: "cors_preflight", extraHeaders: headers)
                return true
            }
            if !cors.forwardUnmatchedPreflights {
                self.sendLocalReply(status: 200, body: nil, details: "cors_preflight_ignored")
                return true
            }
            return false
        }
        if allowed {
            var headers: [(String, String)] = [("access-control-allow-origin", origin)]
            if cors.allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
            if let expose = cors.exposeHeaders { headers.append(("access-control-expose-headers", expose)) }
            self.corsResponseHeaders = headers
        }
        return false
    }
}
