import Foundation

/// Decodes and validates one `http[]` route (ISTIO-SEMANTICS §2.2-2.7; Istio `validateHTTPRoute`).
struct HTTPRouteDecoder {
    let ctx: DecodeContext
    /// Routes of a delegate VS may not delegate again (one level only, §2.9).
    let isDelegate: Bool
    static let maxDirectResponseBody = 1 << 20
    static let warnDirectResponseBody = 100 << 10

    func decode(_ f: Fields) -> HTTPRoute? {
        let vs = VirtualServiceDecoder(ctx: self.ctx)
        var route = HTTPRoute()
        route.name = f.string("name")
        route.match = f.objects("match") { HTTPMatchDecoder(ctx: self.ctx).decode($0) }
        route.route = f.objects("route") { r in
            let destination = r.require("destination").flatMap { node in
                Fields(node, path: r.child("destination"), ctx: self.ctx).flatMap { vs.destination($0) }
            }
            let weight = r.int("weight")
            let headers = r.object("headers") { HeadersDecoder(ctx: self.ctx).decode($0) }
            r.finish()
            return destination.map { HTTPRouteDestination(destination: $0, weight: weight, headers: headers) }
        }
        route.redirect = f.object("redirect") { RedirectDecoder(ctx: self.ctx).decode($0) }
        route.directResponse = f.object("directResponse") { self.directResponse($0) }
        route.delegate = f.object("delegate") { d -> Delegate? in
            defer { d.finish() }
            let name = d.require("name").flatMap { self.ctx.string($0, d.child("name")) }
            return name.map { Delegate(name: $0, namespace: d.string("namespace").flatMap { $0.isEmpty ? nil : $0 }) }
        }
        route.rewrite = f.object("rewrite") { self.rewrite($0) }
        route.timeout = f.duration("timeout")
        self.ctx.checkDuration(route.timeout, f.child("timeout"), allowZero: true)
        route.retries = f.object("retries") { RetriesDecoder(ctx: self.ctx).decode($0) }
        route.fault = f.object("fault") { FaultDecoder(ctx: self.ctx).decode($0) }
        route.mirror = f.object("mirror") { vs.destination($0) }
        route.mirrorPercentage = f.take("mirrorPercentage").flatMap {
            self.ctx.percent($0, f.child("mirrorPercentage"))
        }
        if let legacy = f.int("mirrorPercent") {
            if route.mirrorPercentage != nil {
                self.ctx.error(f.child("mirrorPercent"), "only one of mirrorPercent and mirrorPercentage may be set")
            }
            route.mirrorPercentage = Double(legacy)
        }
        self.ctx.checkPercent(route.mirrorPercentage, f.child("mirrorPercentage"))
        route.mirrors = f.objects("mirrors") { m in
            let destination = m.require("destination").flatMap { node in
                Fields(node, path: m.child("destination"), ctx: self.ctx).flatMap { vs.destination($0) }
            }
            let percentage = m.take("percentage").flatMap { self.ctx.percent($0, m.child("percentage")) }
            self.ctx.checkPercent(percentage, m.child("percentage"))
            m.finish()
            return destination.map { HTTPMirrorPolicy(destination: $0, percentage: percentage) }
        }
        route.corsPolicy = f.object("corsPolicy") { CorsDecoder(ctx: self.ctx).decode($0) }
        route.headers = f.object("headers") { HeadersDecoder(ctx: self.ctx).decode($0) }
        f.finish()
        self.validate(route, f, vs)
        return route
    }

    /// Cross-field rules of one route (§2.2).
    private func validate(_ route: HTTPRoute, _ f: Fields, _ vs: VirtualServiceDecoder) {
        let actions = [
            ("route", !route.route.isEmpty), ("redirect", route.redirect != nil),
            ("directResponse", route.directResponse != nil), ("delegate", route.delegate != nil),
        ].filter(\.1).map(\.0)
        let failed = ["route", "redirect", "directResponse", "delegate"].contains {
            self.ctx.hasError(under: f.child($0))
        }
        if actions.isEmpty, !failed {
            self.ctx.error(f.child("route"), "HTTP route, redirect, direct response or delegate is required",
                           line: f.line)
        } else if actions.count > 1 {
            self.ctx.error(f.child(actions[1]), "HTTP route cannot contain both \(actions[0]) and \(actions[1])")
        }
        if !route.route.isEmpty { vs.checkWeights(route.route.map(\.weight), f.child("route"), line: f.line) }
        if let action = route.redirect != nil ? "redirect" : route.directResponse != nil ? "directResponse" : nil {
            if route.rewrite != nil {
                self.ctx.error(f.child("rewrite"), "HTTP route cannot contain both \(action) and rewrite")
            }
            if route.fault != nil {
                self.ctx.error(f.child("fault"), "HTTP route cannot contain both \(action) and fault")
            }
        }
        if route.delegate != nil, self.isDelegate {
            self.ctx.error(f.child("delegate"), "a delegate virtual service cannot delegate again")
        }
        if route.mirror != nil, !route.mirrors.isEmpty {
            self.ctx.error(f.child("mirrors"), "only one of mirror and mirrors may be set")
        }
        var authorityRewrites = route.rewrite?.authority != nil ? 1 : 0
        authorityRewrites += HeadersDecoder.authorityRewrites(route.headers?.request)
        if authorityRewrites > 1 {
            self.ctx.error(f.child("headers.request"), "only one authority rewrite is allowed per route "
                + "(rewrite.authority or a request host/:authority header)")
        }
        for (i, destination) in route.route.enumerated()
        where HeadersDecoder.authorityRewrites(destination.headers?.request) > 1 {
            self.ctx.error("\(f.child("route"))[\(i)].headers.request", "only one authority rewrite is allowed")
        }
    }

    /// `directResponse`: status 200-599, body `string` or base64 `bytes`, at most 1 MB (§2.2).
    private func directResponse(_ f: Fields) -> HTTPDirectResponse? {
        let status = f.require("status").flatMap { self.ctx.int($0, f.child("status")) }
        if let status, status < 200 || status > 599 {
            self.ctx.error(f.child("status"), "status \(status) must be in the range 200..599")
        }
        let body = f.object("body") { b -> [UInt8]? in
            defer { b.finish() }
            let text = b.string("string")
            let encoded = b.string("bytes")
            if text != nil, encoded != nil {
                self.ctx.error(b.child("bytes"), "only one of string and bytes may be set")
            }
            if let encoded {
                guard let data = Data(base64Encoded: encoded.filter { !$0.isWhitespace }) else {
                    self.ctx.error(b.child("bytes"), "bytes must be base64")
                    return nil
                }
                return Array(data)
            }
            return text.map { Array($0.utf8) }
        }
        f.finish()
        if let body {
            if body.count > Self.maxDirectResponseBody {
                self.ctx.error(f.child("body"), "body is \(body.count) bytes; the limit is 1MB")
            } else if body.count > Self.warnDirectResponseBody {
                self.ctx.warning(f.child("body"), "body is larger than 100KB and is held in memory")
            }
        }
        return status.map { HTTPDirectResponse(status: $0, body: body) }
    }

    /// `rewrite` (§2.6): `uri` and `uriRegexRewrite` are exclusive; the regex must be RE2.
    private func rewrite(_ f: Fields) -> HTTPRewrite {
        var rewrite = HTTPRewrite()
        rewrite.uri = f.string("uri")
        rewrite.authority = f.string("authority")
        rewrite.uriRegexRewrite = f.object("uriRegexRewrite") { r -> RegexRewrite? in
            defer { r.finish() }
            let match = r.require("match").flatMap { self.ctx.string($0, r.child("match")) }
            let replacement = r.require("rewrite").flatMap { self.ctx.string($0, r.child("rewrite")) }
            if let match, let problem = RE2Syntax.validate(match) { self.ctx.error(r.child("match"), problem) }
            guard let match, let replacement else { return nil }
            return RegexRewrite(match: match, rewrite: replacement)
        }
        if rewrite.uri != nil, f.take("uriRegexRewrite") != nil {
            self.ctx.error(f.child("uriRegexRewrite"), "only one of uri and uriRegexRewrite may be set")
        }
        if rewrite.uri == nil, rewrite.authority == nil, rewrite.uriRegexRewrite == nil,
            !self.ctx.hasError(under: f.child("uriRegexRewrite")) {
            self.ctx.error(f.path, "rewrite must specify uri, uriRegexRewrite or authority", line: f.line)
        }
        f.finish()
        return rewrite
    }
}
