import PortcullisModel
import Testing

@testable import PortcullisRouting

/// `Explainer.explain` on TLS and TCP listeners: filter chain by SNI, then HTTP, passthrough or tcp routing
/// (ISTIO-SEMANTICS §0 step 2, §2.10, §8.12).
@Suite struct ExplainerTLSTests {
    static let table: RoutingTable = {
        let yaml = l4Gateway(
            """
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [secure.example.com]
                tls: {mode: SIMPLE, credentialName: secure}
              - port: {number: 443, name: pt, protocol: TLS}
                hosts: ["*.pt.example.com"]
                tls: {mode: PASSTHROUGH}
              - port: {number: 9000, name: tcp, protocol: TCP}
                hosts: ["*"]
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            """)
            + l4VS(
                "secure", hosts: "[secure.example.com]",
                """
                  http:
                  - route: [{destination: {host: web, port: {number: 8080}}}]
                """)
            + l4VS(
                "pt", hosts: "[\"*.pt.example.com\"]",
                """
                  tls:
                  - match: [{sniHosts: ["*.pt.example.com"]}]
                    route:
                    - {destination: {host: pt-a.internal, port: {number: 8443}}, weight: 1}
                    - {destination: {host: pt-b.internal, port: {number: 8443}}, weight: 3}
                """)
            + l4VS(
                "db", hosts: "[\"*\"]",
                """
                  tcp:
                  - route: [{destination: {host: db, port: {number: 5432}}}]
                """)
        return compile(yaml).result.table
    }()

    static func explain(_ url: String, port: Int? = nil, headers: [(String, String)] = []) -> String {
        Explainer.explain(table: Self.table, port: port, method: "GET", url: url, headers: headers)
    }

    @Test func httpsURLExplainsTerminatingChainThenRoute() {
        #expect(Self.explain("https://secure.example.com/x") == """
            listener: 0.0.0.0:443 (tls)
            sni: secure.example.com
            server: istio-system/gw servers[0] (https HTTPS 443; hosts: secure.example.com)
            filter chain: terminate TLS (SIMPLE), HTTP (server names: secure.example.com)
            route table: https.443.https.gw.istio-system
            virtual host: secure.example.com:443 (domains: secure.example.com)
            virtual service: default/secure, route: http[0], catch-all
            action: forward
              destination: outbound|8080||web.default.svc.cluster.local weight 100 (100%)
              timeout: none
              retries: 2 attempts on connect-failure,refused-stream,cancelled,unavailable
            result: forward to outbound|8080||web.default.svc.cluster.local
            """)
    }

    @Test func passthroughChainExplainsTLSRoute() {
        #expect(Self.explain("https://a.pt.example.com/") == """
            listener: 0.0.0.0:443 (tls)
            sni: a.pt.example.com
            server: istio-system/gw servers[1] (pt TLS 443; hosts: *.pt.example.com)
            filter chain: TLS passthrough (server names: *.pt.example.com)
            virtual service: default/pt, route: tls[0], match entry 0 (sni hosts: *.pt.example.com)
              destination: outbound|8443||pt-a.internal weight 1 (25%)
              destination: outbound|8443||pt-b.internal weight 3 (75%)
            result: tls passthrough to outbound|8443||pt-a.internal | outbound|8443||pt-b.internal
            """)
    }

    @Test func tcpPortExplainsTCPRoute() {
        #expect(Self.explain("tcp://anything:9000/", port: 9000) == """
            listener: 0.0.0.0:9000 (tcp)
            server: istio-system/gw servers[2] (tcp TCP 9000; hosts: *)
            filter chain: TCP proxy
            virtual service: default/db, route: tcp[0]
              destination: outbound|5432||db.default.svc.cluster.local weight 100 (100%)
            result: tcp proxy to outbound|5432||db.default.svc.cluster.local
            """)
    }

    @Test func unknownSNIClosesTheConnection() {
        #expect(Self.explain("https://other.example.org/").hasSuffix("""
            sni: other.example.org
            no filter chain for SNI other.example.org (server names: secure.example.com, *.pt.example.com)
            result: connection closed
            """))
    }

    @Test func portNamingTLSListenerUsesChainsForHTTPURL() {
        #expect(Self.explain("http://a.pt.example.com/", port: 443).hasSuffix(
            "result: tls passthrough to outbound|8443||pt-a.internal | outbound|8443||pt-b.internal"))
    }

    @Test func hostHeaderOnAnotherServerIsNotFound() {
        // §8.12: the URL host is the SNI; the Host header is routed in that server's own table only.
        let out = Self.explain("https://secure.example.com/", headers: [("Host", "a.pt.example.com")])
        #expect(out.hasSuffix("""
            no virtual host for host a.pt.example.com (virtual hosts: secure.example.com)
            result: 404 (NR)
            """))
    }

    @Test func httpURLWithoutPortStaysOnHTTPListener() {
        #expect(Self.explain("http://secure.example.com/").hasPrefix("listener: 0.0.0.0:80 (http)"))
    }
}
