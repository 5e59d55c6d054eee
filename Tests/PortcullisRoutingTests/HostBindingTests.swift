import PortcullisModel
import Testing

@testable import PortcullisRouting

/// Server selection, host binding and virtual-host lookup (ISTIO-SEMANTICS §1.1, §1.3, §1.6, §2.1).
@Suite struct HostBindingTests {
    static func gateway(
        hosts: String, name: String = "gw", port: Int = 80, selector: String = "{istio: ingressgateway}",
        extra: String = ""
    ) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: istio-system}
        spec:
          selector: \(selector)
          servers:
          - port: {number: \(port), name: http, protocol: HTTP}
            hosts: \(hosts)
        \(extra)
        ---

        """
    }

    static func vs(_ name: String, ns: String = "default", hosts: String, to dest: String,
                   gateways: String = "[istio-system/gw]", exportTo: String = "[]") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: \(ns)}
        spec:
          hosts: \(hosts)
          gateways: \(gateways)
          exportTo: \(exportTo)
          http:
          - route:
            - destination: {host: \(dest), port: {number: 80}}
        ---

        """
    }

    static func domains(_ yaml: String, port: Int = 80) -> [String] {
        let (r, errors) = compile(yaml)
        #expect(errors.isEmpty)
        return r.table.listener(port: port)?.httpRoutes?.virtualHosts.flatMap(\.domains) ?? []
    }

    @Test func wildcardServerKeepsMoreSpecificVSHost() {
        let y = Self.gateway(hosts: "[\"*.example.com\"]") + Self.vs("v", hosts: "[dev.example.com]", to: "a")
        #expect(Self.domains(y) == ["dev.example.com"])
    }

    @Test func starServerKeepsWildcardVSHost() {
        let y = Self.gateway(hosts: "[\"*\"]") + Self.vs("v", hosts: "[\"*.foo.com\"]", to: "a")
        #expect(Self.domains(y) == ["*.foo.com"])
    }

    @Test func wildcardDoesNotMatchBareDomain() {
        let y = Self.gateway(hosts: "[\"*.example.com\"]") + Self.vs("v", hosts: "[example.com]", to: "a")
        #expect(Self.domains(y).isEmpty)
    }

    @Test func wildcardSpansLabels() {
        let y = Self.gateway(hosts: "[\"*.com\"]") + Self.vs("v", hosts: "[a.b.com]", to: "a")
        #expect(Self.domains(y) == ["a.b.com"])
    }

    @Test func intersectionIsSymmetric() {
        #expect(HostNames.intersect("*.com", "*.foo.com") == "*.foo.com")
        #expect(HostNames.intersect("*.foo.com", "*.com") == "*.foo.com")
        #expect(HostNames.intersect("a.com", "b.com") == nil)
        #expect(HostNames.intersect("*foo.com", "barfoo.com") == "barfoo.com")
    }

    @Test func namespacePrefixRestrictsBinding() {
        let y = Self.gateway(hosts: "[\"ns1/a.com\", \"./b.com\", \"*/c.com\"]")
            + Self.vs("v1", ns: "ns1", hosts: "[a.com, b.com, c.com]", to: "x")
            + Self.vs("v2", ns: "istio-system", hosts: "[a.com, b.com]", to: "y")
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest(host: "a.com")) == "outbound|80||x.ns1.svc.cluster.local")
        #expect(
            target(r.table, port: 80, TestRequest(host: "b.com")) == "outbound|80||y.istio-system.svc.cluster.local")
        #expect(target(r.table, port: 80, TestRequest(host: "c.com")) == "outbound|80||x.ns1.svc.cluster.local")
    }

    @Test func starSlashStarBindsEveryNamespace() {
        let y = Self.gateway(hosts: "[\"ns9/z.com\", \"*/*\"]") + Self.vs("v", hosts: "[q.com]", to: "a")
        #expect(Self.domains(y) == ["q.com"])
    }

    @Test func gatewayHostsAreNotShortNameExpanded() {
        let y = Self.gateway(hosts: "[reviews]") + Self.vs("v", hosts: "[reviews]", to: "a")
        #expect(Self.domains(y).isEmpty)
    }

    @Test func vsWithoutGatewaysIsMeshOnly() {
        let y = Self.gateway(hosts: "[\"*\"]") + Self.vs("v", hosts: "[a.com]", to: "a", gateways: "[]")
        #expect(Self.domains(y).isEmpty)
    }

    @Test func gatewayReferenceForms() {
        let y = Self.gateway(hosts: "[\"*\"]")
            + Self.vs("short", ns: "istio-system", hosts: "[a.com]", to: "a", gateways: "[gw]")
            + Self.vs("dot", ns: "istio-system", hosts: "[b.com]", to: "a", gateways: "[./gw]")
            + Self.vs("legacy", hosts: "[c.com]", to: "a", gateways: "[gw.istio-system.svc.cluster.local]")
            + Self.vs("wrong", hosts: "[d.com]", to: "a", gateways: "[gw]")
        #expect(Self.domains(y).sorted() == ["a.com", "b.com", "c.com"])
    }

    @Test func exportToVisibilityFromGatewayNamespace() {
        let y = Self.gateway(hosts: "[\"*\"]")
            + Self.vs("pub", hosts: "[a.com]", to: "a", exportTo: "[\"*\"]")
            + Self.vs("priv", hosts: "[b.com]", to: "a", exportTo: "[.]")
            + Self.vs("named", hosts: "[c.com]", to: "a", exportTo: "[istio-system]")
            + Self.vs("none", hosts: "[d.com]", to: "a", exportTo: "[\"~\"]")
            + Self.vs("own", ns: "istio-system", hosts: "[e.com]", to: "a", exportTo: "[.]")
        #expect(Self.domains(y).sorted() == ["a.com", "c.com", "e.com"])
    }

    @Test func selectorMustBeSubsetOfOurLabels() {
        let y = Self.gateway(hosts: "[\"*\"]", selector: "{istio: egressgateway}")
            + Self.gateway(hosts: "[\"*\"]", name: "other", port: 81)
        let (r, _) = compile(y, labels: ["istio": "ingressgateway", "app": "x"])
        #expect(r.table.listeners.map(\.port) == [81])
        let (all, _) = compile(y)
        #expect(all.table.listeners.map(\.port) == [80, 81])
    }

    @Test func plaintextServersShareOneTablePerPort() {
        let y = Self.gateway(hosts: "[a.com]") + Self.gateway(hosts: "[b.com]", name: "gw2")
            + Self.vs("v", hosts: "[a.com, b.com]", to: "a", gateways: "[istio-system/gw, istio-system/gw2]")
        let (r, _) = compile(y)
        #expect(r.table.listeners.count == 1)
        #expect(r.table.listener(port: 80)?.httpRoutes?.name == "http.80")
        #expect(r.table.listener(port: 80)?.servers.count == 2)
        #expect(Self.domains(y) == ["a.com", "b.com"])
    }

    @Test func vhostLookupOrder() {
        let y = Self.gateway(hosts: "[\"*\"]")
            + Self.vs("e", hosts: "[a.b.com]", to: "exact")
            + Self.vs("w1", hosts: "[\"*.com\"]", to: "short")
            + Self.vs("w2", hosts: "[\"*.b.com\"]", to: "long")
            + Self.vs("s", hosts: "[\"*\"]", to: "star")
        let (r, _) = compile(y)
        func t(_ host: String) -> String { target(r.table, port: 80, TestRequest(host: host)) }
        #expect(t("a.b.com") == "outbound|80||exact.default.svc.cluster.local")
        #expect(t("A.B.com:80") == "outbound|80||exact.default.svc.cluster.local")
        #expect(t("x.b.com") == "outbound|80||long.default.svc.cluster.local")
        #expect(t("x.com") == "outbound|80||short.default.svc.cluster.local")
        #expect(t("localhost") == "outbound|80||star.default.svc.cluster.local")
        #expect(t("a.b.com.") == "outbound|80||star.default.svc.cluster.local")
    }

    @Test func noFallthroughToStarVhost() {
        let y = Self.gateway(hosts: "[\"*\"]")
            + gatewayFree("""
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: foo, namespace: default}
                spec:
                  hosts: [foo.com]
                  gateways: [istio-system/gw]
                  http:
                  - match: [{uri: {prefix: /only}}]
                    route: [{destination: {host: a, port: {number: 80}}}]
                ---

                """)
            + Self.vs("s", hosts: "[\"*\"]", to: "star")
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/other", host: "foo.com")) == "404")
    }

    @Test func trailingDotIsNotNormalized() {
        let y = Self.gateway(hosts: "[\"*\"]") + Self.vs("e", hosts: "[example.com]", to: "a")
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest(host: "example.com.")) == "404")
    }

    @Test func httpsRedirectMarksEveryVhostIncludingUnbound() {
        let y = Self.gateway(hosts: "[a.com, b.com]", extra: "    tls: {httpsRedirect: true}")
            + Self.vs("v", hosts: "[a.com]", to: "a")
        let (r, _) = compile(y)
        let t = r.table.listener(port: 80)?.httpRoutes
        #expect(t?.virtualHost(forHost: "a.com")?.requireTLS == true)
        #expect(t?.virtualHost(forHost: "b.com")?.requireTLS == true)
        #expect(t?.virtualHost(forHost: "b.com")?.routes.isEmpty == true)
    }
}

/// Identity helper that keeps multi-line YAML literals readable at any indentation.
func gatewayFree(_ s: String) -> String { s }
