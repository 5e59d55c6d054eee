import PortcullisModel
import Testing

@testable import PortcullisRouting

/// Route order and config-time elimination (ISTIO-SEMANTICS §2.3, §2.8, §8.6, §8.7).
@Suite struct OrderingTests {
    static func vs(_ name: String, created: String? = nil, ns: String = "default", http: String) -> String {
        let ts = created.map { ", creationTimestamp: \"\($0)\"" } ?? ""
        return """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name), namespace: \(ns)\(ts)}
            spec:
              hosts: [example.com]
              gateways: [istio-system/gw]
              http:
            \(http)
            ---

            """
    }

    static func rule(_ match: String?, to dest: String) -> String {
        let route = "route: [{destination: {host: \(dest), port: {number: 80}}}]"
        guard let match else { return "  - " + route }
        return "  - match: [\(match)]\n    " + route
    }

    static func dest(_ s: String) -> String { "outbound|80||\(s).default.svc.cluster.local" }

    @Test func rulesAfterCatchAllInSameVSAreDropped() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{uri: {prefix: /a}}", to: "a"),
            Self.rule(nil, to: "all"),
            Self.rule("{uri: {prefix: /b}}", to: "b"),
        ].joined(separator: "\n"))
        let (r, errors) = compile(y)
        #expect(errors.isEmpty)
        #expect(target(r.table, port: 80, TestRequest("/b")) == Self.dest("all"))
        #expect(r.table.listener(port: 80)?.httpRoutes?.virtualHosts[0].routes.count == 2)
    }

    @Test func prefixSlashMatchIsCatchAllToo() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{uri: {prefix: /}}", to: "all"),
            Self.rule("{uri: {prefix: /b}}", to: "b"),
        ].joined(separator: "\n"))
        let (r, _) = compile(y)
        #expect(r.table.listener(port: 80)?.httpRoutes?.virtualHosts[0].routes.count == 1)
    }

    @Test func catchAllsMoveLastAcrossVirtualServices() {
        let y = gatewayYAML
            + Self.vs("first", created: "2020-01-01T00:00:00Z", http: Self.rule(nil, to: "first"))
            + Self.vs("second", created: "2021-01-01T00:00:00Z", http: Self.rule("{uri: {prefix: /b}}", to: "b"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/b")) == Self.dest("b"))
        #expect(target(r.table, port: 80, TestRequest("/x")) == Self.dest("first"))
    }

    @Test func onlyFirstCatchAllIsReachable() {
        let y = gatewayYAML
            + Self.vs("old", created: "2020-01-01T00:00:00Z", http: Self.rule(nil, to: "old"))
            + Self.vs("new", created: "2021-01-01T00:00:00Z", http: Self.rule(nil, to: "new"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/x")) == Self.dest("old"))
    }

    @Test func creationTimestampThenNameOrdersVirtualServices() {
        let m = "{uri: {prefix: /p}}"
        let y = gatewayYAML
            + Self.vs("zeta", created: "2020-01-01T00:00:00Z", http: Self.rule(m, to: "zeta"))
            + Self.vs("alpha", created: "2022-01-01T00:00:00Z", http: Self.rule(m, to: "alpha"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/p")) == Self.dest("zeta"))
        let same = gatewayYAML + Self.vs("zeta", http: Self.rule(m, to: "zeta"))
            + Self.vs("alpha", http: Self.rule(m, to: "alpha"))
        let (s, _) = compile(same)
        #expect(target(s.table, port: 80, TestRequest("/p")) == Self.dest("alpha"))
    }

    @Test func catchAllEntryIsSplitOffAndMovedLast() {
        let y = gatewayYAML
            + Self.vs("a", created: "2020-01-01T00:00:00Z",
                      http: Self.rule("{uri: {exact: /x}}, {uri: {prefix: /}}", to: "a"))
            + Self.vs("b", created: "2021-01-01T00:00:00Z", http: Self.rule("{uri: {prefix: /b}}", to: "b"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/x")) == Self.dest("a"))
        #expect(target(r.table, port: 80, TestRequest("/b")) == Self.dest("b"))
        #expect(target(r.table, port: 80, TestRequest("/c")) == Self.dest("a"))
    }

    @Test func portMismatchDropsEntryAndRouteDisappears() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{port: 8080}", to: "other"),
            Self.rule("{uri: {prefix: /}, port: 80}", to: "here"),
        ].joined(separator: "\n"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/")) == Self.dest("here"))
    }

    @Test func eliminatedRouteDoesNotBecomeCatchAll() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{uri: {prefix: /}, port: 8080}", to: "other"),
            Self.rule("{uri: {prefix: /b}}", to: "b"),
        ].joined(separator: "\n"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/a")) == "404")
        #expect(target(r.table, port: 80, TestRequest("/b")) == Self.dest("b"))
    }

    @Test func matchGatewaysOverrideVSGateways() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{uri: {prefix: /a}, gateways: [istio-system/other]}", to: "other"),
            Self.rule("{uri: {prefix: /a}, gateways: [istio-system/gw]}", to: "here"),
        ].joined(separator: "\n"))
        let (r, _) = compile(y)
        #expect(target(r.table, port: 80, TestRequest("/a")) == Self.dest("here"))
    }

    @Test func sourceLabelsAndNamespaceAreConfigTimeSelectors() {
        let y = gatewayYAML + Self.vs("v", http: [
            Self.rule("{uri: {prefix: /a}, sourceLabels: {app: sleep}}", to: "sleep"),
            Self.rule("{uri: {prefix: /a}, sourceNamespace: default}", to: "defaultns"),
            Self.rule("{uri: {prefix: /a}, sourceLabels: {istio: ingressgateway}}", to: "gwlabels"),
        ].joined(separator: "\n"))
        let (r, _) = compile(y, labels: ["istio": "ingressgateway"])
        #expect(target(r.table, port: 80, TestRequest("/a")) == Self.dest("gwlabels"))
        let (ns, _) = compile(y, labels: ["istio": "ingressgateway"], namespace: "default")
        #expect(target(ns.table, port: 80, TestRequest("/a")) == Self.dest("defaultns"))
    }
}
