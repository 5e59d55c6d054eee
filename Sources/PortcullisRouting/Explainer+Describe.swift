extension Explainer {
    /// Lines describing a hit: the VS and route, then the action and its policies.
    static func describe(_ hit: RouteMatchResult, request: ExplainRequest, serverPort: Int) -> [String] {
        let r = hit.route
        var out: [String] = []
        let label = hit.name.isEmpty ? "http[\(r.index)]" : "\"\(hit.name)\" (http[\(r.index)])"
        let entry = hit.matchIndex.map { " match entry \($0)" } ?? " catch-all"
        out.append("virtual service: \(r.virtualService), route: \(label),\(entry)")
        switch r.action {
        case .forward(let f):
            out.append("action: forward")
            for d in f.destinations {
                let share = Double(d.weight) * 100 / Double(max(f.totalWeight, 1))
                out.append("  destination: \(d.cluster) weight \(d.weight) (\(Self.percent(share)))")
            }
            if let rw = f.rewrite {
                let newPath = rw.rewritePath(request.path, matcher: hit.matcher)
                if newPath != request.path { out.append("  rewritten path: \(newPath)") }
                if let a = rw.authority { out.append("  rewritten authority: \(a)") }
            }
            out.append("  timeout: \(r.timeout.map { "\($0)" } ?? "none")")
            out.append("  retries: \(Self.retries(r.retry))")
            if !r.mirrors.isEmpty {
                let m = r.mirrors.map { "\($0.cluster) (\(Self.percent(Double($0.perMillion) / 10_000)))" }
                out.append("  mirrors: \(m.joined(separator: ", "))")
            }
            if let fault = r.fault {
                if let d = fault.delay {
                    out.append("  fault delay: \(d) at \(Self.percent(Double(fault.delayPerMillion) / 10_000))")
                }
                if let s = fault.abortStatus {
                    out.append("  fault abort: \(s) at \(Self.percent(Double(fault.abortPerMillion) / 10_000))")
                }
            }
            out.append("result: forward to \(f.destinations.map { "\($0.cluster)" }.joined(separator: " | "))")
        case .redirect(let rd):
            let loc = rd.location(
                path: request.path, query: request.query, authority: request.authority, scheme: request.scheme,
                serverPort: serverPort, matcher: hit.matcher)
            out.append("action: redirect")
            out.append("result: \(rd.code) Location: \(loc)")
        case .directResponse(let status, let body):
            out.append("action: direct response")
            if let body { out.append("  body: \(String(decoding: body, as: UTF8.self))") }
            out.append("result: \(status)")
        }
        return out
    }

    static func percent(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
    }

    static func retries(_ p: RetryPolicy) -> String {
        guard p.attempts > 0 else { return "none" }
        var on: [String] = []
        if p.retryOnConnectFailure { on.append("connect-failure") }
        if p.retryOnRefusedStream { on.append("refused-stream") }
        if p.retryOnReset { on.append("reset") }
        if p.retryOn5xx { on.append("5xx") }
        if p.retryOnGatewayError { on.append("gateway-error") }
        if p.retryOnRetriable4xx { on.append("retriable-4xx") }
        on += p.retryOnGRPC.sorted()
        on += p.retriableStatusCodes.sorted().map { "\($0)" }
        var s = "\(p.attempts) attempts on \(on.joined(separator: ","))"
        if let t = p.perTryTimeout { s += ", per try \(t)" }
        return s
    }
}

/// The request `explain` routes: parsed from a URL plus headers (names lower-cased, values joined with `,`).
struct ExplainRequest: RoutableRequest {
    let method: String
    let path: String
    let query: Substring?
    let scheme: String
    let authority: String
    /// The SNI a client would send: the URL host (else the `Host` header's), lower-cased, port stripped; nil when
    /// empty.
    let sni: String?
    let headers: [String: String]

    init(method: String, url: String, headers: [(String, String)]) {
        var joined: [String: String] = [:]
        for (n, v) in headers {
            let k = n.lowercased()
            if let old = joined[k] { joined[k] = old + "," + v } else { joined[k] = v }
        }
        self.method = method
        self.headers = joined
        var rest = Substring(url)
        var scheme = "http"
        var authority = ""
        if let r = rest.firstRange(of: "://") {
            scheme = rest[..<r.lowerBound].lowercased()
            rest = rest[r.upperBound...]
            let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        }
        self.scheme = scheme
        self.authority = joined["host"] ?? joined[":authority"] ?? authority
        let sniHost = HostPort.split(authority.isEmpty ? self.authority : authority).host.lowercased()
        self.sni = sniHost.isEmpty ? nil : sniHost
        if let q = rest.firstIndex(of: "?") {
            self.path = rest[..<q].isEmpty ? "/" : String(rest[..<q])
            self.query = rest[rest.index(after: q)...]
        } else {
            self.path = rest.isEmpty ? "/" : String(rest)
            self.query = nil
        }
    }

    func headerValue(_ lowercasedName: String) -> String? {
        switch lowercasedName {
        case ":authority", "host": self.authority
        case ":method": self.method
        case ":path": self.query.map { self.path + "?" + $0 } ?? self.path
        case ":scheme": self.scheme
        default: self.headers[lowercasedName]
        }
    }
}
