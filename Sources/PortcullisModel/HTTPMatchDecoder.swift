import Yams

/// `HTTPMatchRequest` and `StringMatch` (ISTIO-SEMANTICS §2.3).
struct HTTPMatchDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> HTTPMatchRequest {
        var match = HTTPMatchRequest()
        match.name = f.string("name")
        match.uri = f.take("uri").flatMap { self.stringMatch($0, f.child("uri"), presence: false, emptyPrefix: true) }
        for (key, path) in [("scheme", \HTTPMatchRequest.scheme), ("method", \.method), ("authority", \.authority)] {
            match[keyPath: path] = f.take(key).flatMap {
                self.stringMatch($0, f.child(key), presence: false, emptyPrefix: false)
            }
        }
        match.headers = self.namedMatches(f, "headers", lowerCase: true)
        match.withoutHeaders = self.namedMatches(f, "withoutHeaders", lowerCase: true)
        match.queryParams = self.namedMatches(f, "queryParams", lowerCase: false)
        match.ignoreUriCase = f.bool("ignoreUriCase") ?? false
        match.port = f.int("port")
        VirtualServiceDecoder(ctx: self.ctx).checkPort(match.port, f.child("port"))
        match.gateways = f.strings("gateways")
        match.sourceLabels = f.stringMap("sourceLabels")
        match.sourceNamespace = f.string("sourceNamespace")
        match.statPrefix = f.string("statPrefix")
        f.finish()
        return match
    }

    /// A `name → StringMatch` map in declaration order; `{}` and `regex: "*"` mean presence.
    private func namedMatches(_ f: Fields, _ key: String, lowerCase: Bool) -> [NamedMatch] {
        guard let node = f.take(key), let map = Fields(node, path: f.child(key), ctx: self.ctx) else { return [] }
        return map.allEntries().compactMap { entry in
            if entry.key.isEmpty {
                self.ctx.error(entry.path, "\(key) name must not be empty")
                return nil
            }
            // A null value (`x-foo:`) is the empty StringMatch, i.e. presence.
            if entry.value.isNull { return NamedMatch(name: lowerCase ? entry.key.lowercased() : entry.key,
                                                      match: .present) }
            guard let m = self.stringMatch(entry.value, entry.path, presence: true, emptyPrefix: false) else {
                return nil
            }
            return NamedMatch(name: lowerCase ? entry.key.lowercased() : entry.key, match: m)
        }
    }

    /// One `StringMatch` (oneof exact | prefix | regex). nil for `{}` outside presence contexts (= unset).
    func stringMatch(_ node: Node, _ path: String, presence: Bool, emptyPrefix: Bool) -> StringMatch? {
        guard let f = Fields(node, path: path, ctx: self.ctx) else { return nil }
        defer { f.finish() }
        var found: [(String, StringMatch)] = []
        if let v = f.string("exact") { found.append(("exact", .exact(v))) }
        if let v = f.string("prefix") {
            if v.isEmpty, !emptyPrefix {
                self.ctx.error(f.child("prefix"), "prefix string match should not be empty")
            }
            found.append(("prefix", .prefix(v)))
        }
        if let v = f.string("regex") {
            if presence, v == "*" {
                found.append(("regex", .present))
            } else {
                if let problem = RE2Syntax.validate(v) { self.ctx.error(f.child("regex"), problem) }
                found.append(("regex", .regex(v)))
            }
        }
        if found.count > 1 {
            self.ctx.error(f.child(found[1].0), "only one of exact, prefix and regex may be set")
        }
        if let first = found.first { return first.1 }
        return presence ? .present : nil
    }
}
