import PortcullisModel

/// VirtualService delegation, one level (ISTIO-SEMANTICS §2.9): a root rule with `delegate` is replaced by the
/// delegate VS's rules, each match intersected with the root's and unset fields inherited from the root.
///
/// Runs before translation, as Istio merges delegates into the root VS before building routes, so catch-all
/// truncation and ordering see the merged list.
enum Delegation {
    /// The root VS with every `delegate` rule expanded; rules whose delegate is missing, not a delegate (has hosts
    /// or gateways) or not exported to the root's namespace are dropped with a warning.
    static func expand(_ root: VirtualService, state: CompileState) -> (vs: VirtualService, origin: [Int]) {
        guard root.http.contains(where: { $0.delegate != nil }) else {
            return (root, Array(root.http.indices))
        }
        var out = root
        var http: [HTTPRoute] = []
        var origin: [Int] = []
        for (i, rule) in root.http.enumerated() {
            guard let d = rule.delegate else {
                http.append(rule)
                origin.append(i)
                continue
            }
            let ns = d.namespace ?? root.meta.namespace
            let leaf = state.config.virtualServices.first { $0.meta.name == d.name && $0.meta.namespace == ns }
            guard let leaf, leaf.hosts.isEmpty, leaf.gateways.isEmpty,
                RouteCompiler.visible(leaf, from: root.meta.namespace)
            else {
                state.report(
                    .warning, kind: "VirtualService", meta: root.meta, path: "spec.http[\(i)].delegate",
                    "delegate \(ns)/\(d.name) not found, not a delegate, or not exported here; rule skipped")
                continue
            }
            for sub in leaf.http where sub.delegate == nil {
                guard let merged = self.merge(root: rule, leaf: sub, leafNamespace: ns, domain: state.options.domain)
                else { continue }
                http.append(merged)
                origin.append(i)
            }
        }
        out.http = http
        return (out, origin)
    }

    /// Istio `mergeHTTPRoute`: intersected matches, `root-leaf` name, root fields inherited when unset.
    static func merge(root: HTTPRoute, leaf: HTTPRoute, leafNamespace: String, domain: String) -> HTTPRoute? {
        var r = leaf
        if !root.match.isEmpty && !leaf.match.isEmpty {
            var merged: [HTTPMatchRequest] = []
            for rm in root.match {
                for lm in leaf.match where !self.conflict(rm, lm) { merged.append(self.inherit(lm, from: rm)) }
            }
            if merged.isEmpty { return nil }
            r.match = merged
        } else if leaf.match.isEmpty {
            r.match = root.match
        }
        if let rn = root.name, !rn.isEmpty { r.name = leaf.name.map { "\(rn)-\($0)" } ?? rn }
        // Leaf destinations are short-name expanded with the leaf's namespace (§6).
        func fix(_ d: Destination) -> Destination {
            var d = d
            d.host = HostName.expand(d.host, namespace: leafNamespace, domain: domain)
            return d
        }
        r.route = r.route.map { var x = $0; x.destination = fix(x.destination); return x }
        r.mirror = r.mirror.map(fix)
        r.mirrors = r.mirrors.map { var m = $0; m.destination = fix(m.destination); return m }
        if r.rewrite == nil { r.rewrite = root.rewrite }
        if r.timeout == nil { r.timeout = root.timeout }
        if r.retries == nil { r.retries = root.retries }
        if r.fault == nil { r.fault = root.fault }
        if r.mirror == nil && r.mirrors.isEmpty {
            r.mirror = root.mirror
            r.mirrorPercentage = root.mirrorPercentage
            r.mirrors = root.mirrors
        }
        if r.corsPolicy == nil { r.corsPolicy = root.corsPolicy }
        if r.headers == nil { r.headers = root.headers }
        if r.route.isEmpty && r.redirect == nil && r.directResponse == nil { r.directResponse = root.directResponse }
        return r
    }

    /// Unset leaf fields take the root's value; header/query maps are unioned (the leaf wins on a key).
    static func inherit(_ leaf: HTTPMatchRequest, from root: HTTPMatchRequest) -> HTTPMatchRequest {
        var m = leaf
        m.uri = m.uri ?? root.uri
        m.scheme = m.scheme ?? root.scheme
        m.method = m.method ?? root.method
        m.authority = m.authority ?? root.authority
        m.port = m.port ?? root.port
        m.sourceNamespace = m.sourceNamespace ?? root.sourceNamespace
        if m.gateways.isEmpty { m.gateways = root.gateways }
        if m.sourceLabels.isEmpty { m.sourceLabels = root.sourceLabels }
        func union(_ a: [NamedMatch], _ b: [NamedMatch]) -> [NamedMatch] {
            a + b.filter { x in !a.contains { $0.name == x.name } }
        }
        m.headers = union(m.headers, root.headers)
        m.withoutHeaders = union(m.withoutHeaders, root.withoutHeaders)
        m.queryParams = union(m.queryParams, root.queryParams)
        return m
    }

    /// Istio `hasConflict`: the leaf must be at least as specific as the root on every property both set.
    static func conflict(_ root: HTTPMatchRequest, _ leaf: HTTPMatchRequest) -> Bool {
        if self.conflict(root.uri, leaf.uri) || self.conflict(root.scheme, leaf.scheme)
            || self.conflict(root.method, leaf.method) || self.conflict(root.authority, leaf.authority)
        {
            return true
        }
        if root.ignoreUriCase != leaf.ignoreUriCase { return true }
        if let a = root.port, let b = leaf.port, a != b { return true }
        for (a, b) in [(root.headers, leaf.headers), (root.withoutHeaders, leaf.withoutHeaders),
                       (root.queryParams, leaf.queryParams)] {
            for x in a {
                if let y = b.first(where: { $0.name == x.name }), self.conflict(x.match, y.match) { return true }
            }
        }
        if !root.sourceLabels.isEmpty && !leaf.sourceLabels.isEmpty && root.sourceLabels != leaf.sourceLabels {
            return true
        }
        if let a = root.sourceNamespace, let b = leaf.sourceNamespace, a != b { return true }
        if !root.gateways.isEmpty && !leaf.gateways.isEmpty && Set(root.gateways) != Set(leaf.gateways) {
            return true
        }
        return false
    }

    static func conflict(_ root: StringMatch?, _ leaf: StringMatch?) -> Bool {
        guard let root, let leaf else { return false }
        switch (root, leaf) {
        case (.regex(let a), .regex(let b)): return a != b
        case (.regex, _), (_, .regex): return true
        case (.exact(let a), .exact(let b)): return a != b
        case (.exact, .prefix): return true
        case (.prefix(let a), .exact(let b)): return !b.hasPrefix(a)
        case (.prefix(let a), .prefix(let b)): return !b.hasPrefix(a)
        case (.present, _), (_, .present): return false
        }
    }
}
