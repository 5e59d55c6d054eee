import PortcullisModel

extension RouteTranslator {
    /// Builds the route for one rule: action, header operations, timeout, retries, fault and mirrors.
    func buildRoute(_ http: HTTPRoute, index: Int, path: String, matches: [RouteMatcher]) -> Route? {
        let (reqHeaders, headerAuthority) = Self.mutation(http.headers?.request)
        let (respHeaders, _) = Self.mutation(http.headers?.response)
        let action: RouteAction
        if let r = http.redirect {
            action = .redirect(
                RedirectAction(
                    code: r.redirectCode ?? 301, uri: r.uri, prefixRewrite: r.prefixRewrite, authority: r.authority,
                    port: r.derivePort == .fromRequestPort ? self.port : r.port,
                    protocolDefaultPort: r.derivePort == .fromProtocolDefault, scheme: r.scheme))
        } else if let d = http.directResponse {
            action = .directResponse(status: d.status, body: d.body)
        } else if !http.route.isEmpty {
            guard let forward = self.forward(http, path: path, headerAuthority: headerAuthority) else { return nil }
            action = .forward(forward)
        } else {
            self.state.report(
                .error, kind: "VirtualService", meta: self.vs.meta, path: path,
                "rule has none of route, redirect, directResponse")
            return nil
        }
        return Route(
            name: http.name ?? "", virtualService: "\(self.vs.meta.namespace)/\(self.vs.meta.name)", index: index,
            matches: matches, action: action, requestHeaders: reqHeaders, responseHeaders: respHeaders,
            timeout: http.timeout.flatMap { $0 > .zero ? $0 : nil }, retry: Self.retry(http.retries),
            fault: Self.fault(http.fault), mirrors: self.mirrors(http), cors: self.cors(http.corsPolicy, path: path))
    }

    private func cors(_ c: CorsPolicy?, path: String) -> RouteCORS? {
        guard let c else { return nil }
        var origins: [StringMatcher] = []
        for (k, o) in c.allowOrigins.enumerated() {
            do {
                origins.append(try StringMatcher(o))
            } catch {
                self.state.report(
                    .error, kind: "VirtualService", meta: self.vs.meta, path: "\(path).corsPolicy.allowOrigins[\(k)]",
                    "invalid regex: \(error)")
            }
        }
        func joined(_ list: [String]) -> String? { list.isEmpty ? nil : list.joined(separator: ",") }
        return RouteCORS(
            allowOrigins: origins, allowMethods: joined(c.allowMethods), allowHeaders: joined(c.allowHeaders),
            exposeHeaders: joined(c.exposeHeaders), maxAgeSeconds: c.maxAge.map { Int($0.components.seconds) },
            allowCredentials: c.allowCredentials ?? false,
            forwardUnmatchedPreflights: (c.unmatchedPreflights ?? "FORWARD").uppercased() != "IGNORE")
    }

    private func forward(_ http: HTTPRoute, path: String, headerAuthority: String?) -> ForwardAction? {
        let single = http.route.count == 1
        var destinations: [WeightedDestination] = []
        for (k, d) in http.route.enumerated() {
            let weight = single ? 100 : (d.weight ?? 0)
            if weight <= 0 { continue }
            let key = self.state.clusterKey(d.destination, namespace: self.vs.meta.namespace, serverPort: self.port)
            if let subset = key.subset, !self.state.subsetKnown(host: key.host, subset: subset) {
                self.state.report(
                    .warning, kind: "VirtualService", meta: self.vs.meta,
                    path: "\(path).route[\(k)].destination.subset",
                    "subset \(subset) of \(key.host) is not defined by any DestinationRule (requests get 503)")
            }
            let (req, authority) = Self.mutation(d.headers?.request)
            let (resp, _) = Self.mutation(d.headers?.response)
            destinations.append(
                WeightedDestination(
                    cluster: key, weight: weight, requestHeaders: req, responseHeaders: resp, authority: authority))
        }
        guard !destinations.isEmpty else {
            self.state.report(
                .error, kind: "VirtualService", meta: self.vs.meta, path: path + ".route",
                "total destination weight = 0")
            return nil
        }
        var regexRewrite: (regex: CompiledRegex, template: String)?
        if let rr = http.rewrite?.uriRegexRewrite {
            do {
                regexRewrite = (try CompiledRegex(rr.match), rr.rewrite)
            } catch {
                self.state.report(
                    .error, kind: "VirtualService", meta: self.vs.meta, path: path + ".rewrite.uriRegexRewrite.match",
                    "invalid regex: \(error)")
                return nil
            }
        }
        let authority = http.rewrite?.authority ?? headerAuthority
        let uri = http.rewrite?.uri
        let rewrite =
            (authority == nil && uri == nil && regexRewrite == nil)
            ? nil : RewriteAction(authority: authority, uri: uri, regexRewrite: regexRewrite)
        return ForwardAction(destinations: destinations, rewrite: rewrite)
    }

    private func mirrors(_ http: HTTPRoute) -> [MirrorPolicy] {
        var list: [(Destination, Double?)] = []
        if let m = http.mirror { list.append((m, http.mirrorPercentage)) }
        list += http.mirrors.map { ($0.destination, $0.percentage) }
        return list.compactMap { d, pct in
            let perMillion = Self.perMillion(pct ?? 100)
            guard perMillion > 0 else { return nil }
            let key = self.state.clusterKey(d, namespace: self.vs.meta.namespace, serverPort: self.port)
            return MirrorPolicy(cluster: key, perMillion: perMillion)
        }
    }

    /// Header operations with `host`/`:authority` writes pulled out as an authority rewrite (§2.4).
    static func mutation(_ ops: HeaderOperations?) -> (HeaderMutation, String?) {
        guard let ops else { return (.empty, nil) }
        var authority: String?
        func keep(_ h: HeaderValue) -> Bool {
            let n = h.name.lowercased()
            if n == "host" || n == ":authority" {
                authority = h.value
                return false
            }
            return true
        }
        let set = ops.set.filter(keep).map { (name: $0.name.lowercased(), value: $0.value) }
        let add = ops.add.filter(keep).map { (name: $0.name.lowercased(), value: $0.value) }
        return (HeaderMutation(remove: ops.remove.map { $0.lowercased() }, set: set, add: add), authority)
    }

    static func retry(_ r: HTTPRetry?) -> RetryPolicy {
        guard let r else { return .istioDefault }
        if r.attempts <= 0 { return .disabled }
        return RetryPolicy.parse(attempts: r.attempts, perTryTimeout: r.perTryTimeout, retryOn: r.retryOn)
    }

    static func fault(_ f: HTTPFaultInjection?) -> FaultPolicy? {
        guard let f, f.delay != nil || f.abort != nil else { return nil }
        return FaultPolicy(
            delay: f.delay?.fixedDelay, delayPerMillion: self.perMillion(f.delay?.percentage ?? 0),
            abortStatus: f.abort?.httpStatus, abortPerMillion: self.perMillion(f.abort?.percentage ?? 0),
            abortGRPCStatus: f.abort?.grpcStatus)
    }

    /// Percent (0–100, double) → parts per million, clamped.
    static func perMillion(_ percent: Double) -> Int {
        guard percent.isFinite else { return 0 }
        return min(1_000_000, max(0, Int((percent * 10_000).rounded())))
    }
}
