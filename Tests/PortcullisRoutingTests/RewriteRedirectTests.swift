import PortcullisModel
import Testing

@testable import PortcullisRouting

/// `rewrite` (ISTIO-SEMANTICS §2.6, examples verbatim) and `redirect` (§2.5, §8.17).
@Suite struct RewriteRedirectTests {
    /// The rewritten path of `path` through a single rule with `match` (or none) and `rewrite`.
    static func rewritten(_ path: String, match: String?, rewrite: String) -> String? {
        let m = match.map { "    match: [\($0)]\n" } ?? ""
        let (r, errors) = compile(withVS("  - \(m.isEmpty ? "" : String(m.dropFirst(4)))"
            + (m.isEmpty ? "" : "    ") + """
            rewrite: \(rewrite)
                route: [{destination: {host: a, port: {number: 80}}}]
            """))
        #expect(errors.isEmpty)
        let request = TestRequest(path)
        guard let h = hit(r.table, port: 80, request), case .forward(let f) = h.route.action else { return nil }
        return f.rewrite?.rewritePath(request.path, matcher: h.matcher)
    }

    @Test func prefixMatchReplacesMatchedPrefix() {
        let m = "{uri: {prefix: /ratings}}"
        #expect(Self.rewritten("/ratings/5", match: m, rewrite: "{uri: /v1/bookRatings}") == "/v1/bookRatings/5")
        #expect(Self.rewritten("/ratingsX", match: m, rewrite: "{uri: /v1/bookRatings}") == "/v1/bookRatingsX")
    }

    @Test func exactAndRegexMatchesReplaceWholePath() {
        #expect(Self.rewritten("/a/b", match: "{uri: {exact: /a/b}}", rewrite: "{uri: /new}") == "/new")
        #expect(Self.rewritten("/a/b", match: "{uri: {regex: \"/a/.*\"}}", rewrite: "{uri: /new}") == "/new")
    }

    @Test func noUriMatchReplacesLeadingSlash() {
        #expect(Self.rewritten("/productpage", match: nil, rewrite: "{uri: /v1}") == "/v1productpage")
        #expect(Self.rewritten("/productpage", match: "{method: {exact: GET}}", rewrite: "{uri: /v1}")
            == "/v1productpage")
    }

    @Test func prefixFooToSlashGivesDoubleSlash() {
        #expect(Self.rewritten("/foo/bar", match: "{uri: {prefix: /foo}}", rewrite: "{uri: /}") == "//bar")
        #expect(Self.rewritten("/foo/bar", match: "{uri: {prefix: /foo/}}", rewrite: "{uri: /}") == "/bar")
    }

    @Test func regexRewriteSubstitutesGroups() {
        let rw = #"{uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1"}}"#
        #expect(Self.rewritten("/service/foo/v1/api", match: nil, rewrite: rw) == "/v1/api/instance/foo")
        let rw2 = #"{uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "/customprefix/\\2/\\1"}}"#
        #expect(Self.rewritten("/service/foo/v1/api", match: nil, rewrite: rw2) == "/customprefix//v1/api/foo")
    }

    @Test func regexRewriteReplacesEveryMatch() {
        let rw = #"{uriRegexRewrite: {match: "a", rewrite: "b"}}"#
        #expect(Self.rewritten("/aXa", match: nil, rewrite: rw) == "/bXb")
    }

    /// Location for a request through a single redirect rule on a gateway at `port`.
    static func location(
        _ path: String, host: String = "a.com", scheme: String = "http", match: String? = nil,
        redirect: String, port: Int = 80
    ) -> String? {
        let gw = gatewayYAML.replacing("number: 80", with: "number: \(port)")
        let m = match.map { "match: [\($0)]\n    " } ?? ""
        let yaml = gw + """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
              - \(m)redirect: \(redirect)
            """
        let (r, errors) = compile(yaml)
        #expect(errors.isEmpty)
        let request = TestRequest(path, host: host, scheme: scheme)
        guard let h = hit(r.table, port: port, request), case .redirect(let rd) = h.route.action else { return nil }
        return "\(rd.code) " + rd.location(
            path: request.path, query: request.query, authority: request.authority, scheme: request.scheme,
            serverPort: port, matcher: h.matcher)
    }

    @Test func uriReplacesWholePathAndKeepsQuery() {
        #expect(Self.location("/old/x?q=1", match: "{uri: {prefix: /old}}", redirect: "{uri: /new}")
            == "301 http://a.com/new?q=1")
        #expect(Self.location("/old?q=1", redirect: "{uri: \"/new?z=2\"}") == "301 http://a.com/new?z=2")
    }

    @Test func prefixRewriteReplacesMatchedPrefix() {
        #expect(Self.location("/foo/baz", match: "{uri: {prefix: /foo}}", redirect: "{prefixRewrite: /}")
            == "301 http://a.com//baz")
        #expect(Self.location("/foo/baz", match: "{uri: {prefix: /foo/}}", redirect: "{prefixRewrite: /}")
            == "301 http://a.com/baz")
    }

    @Test func authorityDropsOriginalPort() {
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{authority: b.com}") == "301 http://b.com/p")
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{authority: b.com, port: 9000}")
            == "301 http://b.com:9000/p")
    }

    @Test func newPortReplacesHostPort() {
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{port: 9000}") == "301 http://a.com:9000/p")
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{port: 80}") == "301 http://a.com/p")
    }

    @Test func schemeChangeDropsOldDefaultPortOnly() {
        #expect(Self.location("/p", host: "a.com:80", redirect: "{scheme: https}") == "301 https://a.com/p")
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{scheme: https}") == "301 https://a.com:8080/p")
        #expect(Self.location("/p", host: "a.com", redirect: "{scheme: https, port: 443}") == "301 https://a.com/p")
    }

    @Test func derivePortFromRequestPortUsesDeclaredServerPort() {
        #expect(Self.location("/p", host: "a.com:31380", redirect: "{derivePort: FROM_REQUEST_PORT}", port: 8080)
            == "301 http://a.com:8080/p")
        #expect(Self.location("/p", host: "a.com:8080", redirect: "{scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}")
            == "301 https://a.com/p")
    }

    @Test func redirectCode() {
        #expect(Self.location("/p", redirect: "{uri: /q, redirectCode: 302}") == "302 http://a.com/q")
    }

    @Test func httpsRedirectKeepsHostAndPort() {
        #expect(RedirectAction.httpsRedirectLocation(path: "/p", query: "a=1", authority: "a.com:8080")
            == "https://a.com:8080/p?a=1")
    }
}
