import PortcullisModel
import Testing

@testable import PortcullisRouting

/// `Explainer.explain` output for a hit and for every miss reason.
@Suite struct ExplainerTests {
    static let table: RoutingTable = {
        let yaml = gatewayYAML + """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: bookinfo, namespace: default}
            spec:
              hosts: [bookinfo.example.com]
              gateways: [istio-system/gw]
              http:
              - name: reviews
                match: [{uri: {prefix: /reviews}}]
                rewrite: {uri: /v1/reviews}
                route:
                - {destination: {host: reviews, subset: v1, port: {number: 9080}}, weight: 80}
                - {destination: {host: reviews, subset: v2, port: {number: 9080}}, weight: 20}
                timeout: 2s
              - match: [{uri: {exact: /old}}]
                redirect: {uri: /new, authority: new.example.com}
              - match: [{uri: {exact: /down}}]
                directResponse: {status: 503, body: {string: maintenance}}
            """
        return compile(yaml).result.table
    }()

    static func explain(_ url: String, port: Int? = nil, headers: [(String, String)] = []) -> String {
        Explainer.explain(table: Self.table, port: port, method: "GET", url: url, headers: headers)
    }

    @Test func forwardHitNamesEverything() {
        let out = Self.explain("http://bookinfo.example.com/reviews/1")
        #expect(out == """
            listener: 0.0.0.0:80 (http)
            server: istio-system/gw servers[0] (http HTTP 80; hosts: *)
            route table: http.80
            virtual host: bookinfo.example.com:80 (domains: bookinfo.example.com)
            virtual service: default/bookinfo, route: "reviews" (http[0]), match entry 0
            action: forward
              destination: outbound|9080|v1|reviews.default.svc.cluster.local weight 80 (80%)
              destination: outbound|9080|v2|reviews.default.svc.cluster.local weight 20 (20%)
              rewritten path: /v1/reviews/1
              timeout: 2.0 seconds
              retries: 2 attempts on connect-failure,refused-stream,cancelled,unavailable
            result: forward to outbound|9080|v1|reviews.default.svc.cluster.local \
            | outbound|9080|v2|reviews.default.svc.cluster.local
            """)
    }

    @Test func redirectHitShowsLocation() {
        let out = Self.explain("/old?x=1", headers: [("Host", "bookinfo.example.com:80")])
        #expect(out.hasSuffix("result: 301 Location: http://new.example.com/new?x=1"))
    }

    @Test func directResponseHitShowsStatusAndBody() {
        let out = Self.explain("http://bookinfo.example.com/down")
        #expect(out.hasSuffix("action: direct response\n  body: maintenance\nresult: 503"))
    }

    @Test func noListenerOnPort() {
        #expect(Self.explain("http://bookinfo.example.com/", port: 9999)
            == "no listener on port 9999 (listeners: 80)\nresult: connection refused")
    }

    @Test func noVirtualHostListsKnownHosts() {
        let out = Self.explain("http://other.example.com/reviews")
        #expect(out.hasSuffix(
            "no virtual host for host other.example.com (virtual hosts: bookinfo.example.com)\nresult: 404 (NR)"))
    }

    @Test func noRouteInVirtualHost() {
        let out = Self.explain("http://bookinfo.example.com/nothing")
        #expect(out.hasSuffix("no route in virtual host bookinfo.example.com:80 matched (3 routes)\nresult: 404 (NR)"))
    }

    @Test func httpsRedirectIsExplained() {
        let yaml = gatewayYAML.replacing("hosts: [\"*\"]", with: "hosts: [\"*\"]\n    tls: {httpsRedirect: true}")
        let table = compile(yaml).result.table
        let out = Explainer.explain(table: table, port: 80, method: "GET", url: "http://a.com:80/p?q", headers: [])
        #expect(out.hasSuffix("requires TLS (httpsRedirect)\nresult: 301 Location: https://a.com:80/p?q"))
    }
}
