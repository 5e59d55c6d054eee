import PortcullisModel

/// Turns one VirtualService's `http[]` into routes for one gateway and declared port (ISTIO-SEMANTICS §2.2–§2.8).
struct RouteTranslator {
    let state: CompileState
    let vs: VirtualService
    /// `ns/name` of the Gateway the VS binds through.
    let gateway: String
    /// Declared port of the server (what `match.port` and `FROM_REQUEST_PORT` see).
    let port: Int

    private var vsID: String { "\(self.vs.meta.namespace)/\(self.vs.meta.name)" }

    /// Translated routes in VS order. Entries removed at config time vanish (a rule losing all of them vanishes);
    /// translation stops after the first catch-all rule; a catch-all entry is split off its rule so the vhost can
    /// move it last (§2.8).
    func translate() -> [Route] {
        var out: [Route] = []
        let (expanded, origin) = Delegation.expand(self.vs, state: self.state)
        for (n, http) in expanded.http.enumerated() {
            let i = origin[n]
            let path = "spec.http[\(i)]"
            var entries: [RouteMatcher] = []
            var stops = http.match.isEmpty
            var invalid = false
            for (j, m) in http.match.enumerated() where self.survives(m) {
                guard let rm = self.compileMatch(m, path: "\(path).match[\(j)]") else {
                    invalid = true
                    continue
                }
                entries.append(rm)
                if Self.isConfigCatchAll(m) {
                    stops = true
                    break
                }
            }
            if invalid || (!http.match.isEmpty && entries.isEmpty) { continue }
            guard let route = self.buildRoute(http, index: i, path: path, matches: entries) else { continue }
            if let k = entries.firstIndex(where: { $0.isCatchAll }), entries.count > 1 {
                if k > 0 { out.append(route.with(matches: Array(entries[..<k]))) }
                out.append(route.with(matches: [entries[k]]))
            } else {
                out.append(route)
            }
            if stops { break }
        }
        return out
    }

    /// Config-time elimination (§2.3): `port`, `gateways`, `sourceLabels`, `sourceNamespace`.
    private func survives(_ m: HTTPMatchRequest) -> Bool {
        if let p = m.port, p != self.port { return false }
        if !m.gateways.isEmpty {
            let ids = m.gateways.map { HostNames.gatewayID($0, vsNamespace: self.vs.meta.namespace) }
            if !ids.contains(self.gateway) { return false }
        }
        if !m.sourceLabels.isEmpty {
            let own = self.state.options.gatewayLabels ?? [:]
            if !m.sourceLabels.allSatisfy({ own[$0.key] == $0.value }) { return false }
        }
        if let ns = m.sourceNamespace, ns != self.state.options.gatewayNamespace { return false }
        return true
    }

    /// Istio `isCatchAllMatch`: uri prefix `/` (or a match-everything regex) and no other condition.
    static func isConfigCatchAll(_ m: HTTPMatchRequest) -> Bool {
        let uriAll: Bool
        switch m.uri {
        case .prefix("/"), .regex(".*"), .regex("*"), .present: uriAll = true
        default: uriAll = false
        }
        return uriAll && m.headers.isEmpty && m.queryParams.isEmpty && m.sourceLabels.isEmpty
            && m.withoutHeaders.isEmpty && m.gateways.isEmpty && m.method == nil && m.scheme == nil
            && m.port == nil && m.authority == nil && m.sourceNamespace == nil
    }

    private func compileMatch(_ m: HTTPMatchRequest, path: String) -> RouteMatcher? {
        do {
            func named(_ list: [NamedMatch], _ field: String) throws -> [(name: String, matcher: StringMatcher)] {
                try list.map { nm in
                    do {
                        return (nm.name.lowercased(), try StringMatcher(nm.match))
                    } catch {
                        throw FieldError(path: "\(path).\(field).\(nm.name)", error: error)
                    }
                }
            }
            func one(_ s: StringMatch?, _ field: String, ignoreCase: Bool = false) throws -> StringMatcher? {
                guard let s else { return nil }
                do { return try StringMatcher(s, ignoreCase: ignoreCase) } catch {
                    throw FieldError(path: "\(path).\(field)", error: error)
                }
            }
            return RouteMatcher(
                name: m.name, uri: try one(m.uri, "uri", ignoreCase: m.ignoreUriCase),
                scheme: try one(m.scheme, "scheme"), method: try one(m.method, "method"),
                authority: try one(m.authority, "authority"), headers: try named(m.headers, "headers"),
                withoutHeaders: try named(m.withoutHeaders, "withoutHeaders"),
                queryParams: try named(m.queryParams, "queryParams"))
        } catch let e as FieldError {
            self.state.report(
                .error, kind: "VirtualService", meta: self.vs.meta, path: e.path,
                "invalid regex: \(e.error)")
            return nil
        } catch {
            return nil
        }
    }

    private struct FieldError: Error {
        let path: String
        let error: any Error
    }
}
