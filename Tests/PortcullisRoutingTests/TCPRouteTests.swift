import PortcullisModel
import Testing

@testable import PortcullisRouting

/// VirtualService `tcp[]` routes on TCP and terminating TLS servers, and the TLS mismatch (ISTIO-SEMANTICS §2.8,
/// §2.10, §8.11).
@Suite struct TCPRouteTests {
    static let yaml = l4Gateway(
        """
          - port: {number: 9000, name: tcp, protocol: TCP}
            hosts: ["*"]
          - port: {number: 9001, name: tcp-other, protocol: TCP}
            hosts: ["*"]
          - port: {number: 9002, name: tcp-none, protocol: TCP}
            hosts: [ns9/none.example.com]
          - port: {number: 9443, name: tls-term, protocol: TLS}
            hosts: [term.example.com]
            tls: {mode: SIMPLE, credentialName: term}
        """)
        // Newer by creationTimestamp although first in the file: the older `b` supplies port 9000.
        + l4VS(
            "a", hosts: "[\"*\"]", created: "2023-01-01T00:00:00Z",
            """
              tcp:
              - route: [{destination: {host: a-db}}]
            """)
        + l4VS(
            "b", hosts: "[\"*\"]", created: "2021-01-01T00:00:00Z",
            """
              tcp:
              - match: [{port: 9443}]
                route: [{destination: {host: b-term, port: {number: 5432}}}]
              - match: [{port: 9000}, {port: 7}]
                route:
                - {destination: {host: b-db, port: {number: 5432}}, weight: 1}
                - {destination: {host: b-db, subset: v2, port: {number: 5432}}, weight: 3}
              - match: [{gateways: [istio-system/gw]}]
                route: [{destination: {host: b-gw, port: {number: 5432}}}]
            """)
        + l4VS(
            "mesh-only", hosts: "[none.example.com]", gateways: "[mesh]", created: "2020-01-01T00:00:00Z",
            """
              tcp:
              - route: [{destination: {host: mesh-db}}]
            """)
        + """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: b-db, namespace: default}
        spec:
          host: b-db
          subsets: [{name: v2, labels: {version: v2}}]

        """

    static let compiled = compile(Self.yaml)
    static var table: RoutingTable { Self.compiled.result.table }

    static func route(port: Int, sni: String? = nil) -> (vs: String, index: Int, total: Int)? {
        switch Self.table.listener(port: port)?.filterChain(forServerName: sni)?.mode {
        case .plainTCP(let r?), .terminateTCP(let r?): return (r.virtualService, r.index, r.totalWeight)
        default: return nil
        }
    }

    @Test func configLoadsCleanly() {
        #expect(Self.compiled.loadErrors.isEmpty)
    }

    @Test func firstVSInCreationOrderSupplies() {
        #expect(Self.route(port: 9000)?.vs == "default/b")
    }

    @Test func firstRuleWhosePortFitsWins() {
        #expect(Self.route(port: 9000)?.index == 1)
    }

    @Test func weightedDestinationsAreKept() {
        #expect(tcpTarget(Self.table, port: 9000)
            == "outbound|5432||b-db.default.svc.cluster.local 1, outbound|5432|v2|b-db.default.svc.cluster.local 3")
    }

    @Test func totalWeightIsTheSum() {
        #expect(Self.route(port: 9000)?.total == 4)
    }

    @Test func pickIsWeighted() {
        guard case .plainTCP(let r?) = Self.table.listener(port: 9000)?.filterChain(forServerName: nil)?.mode else {
            Issue.record("no tcp route")
            return
        }
        #expect(r.pick(1).cluster.subset == "v2")
    }

    @Test func gatewaysMatchFitsOtherPorts() {
        #expect(Self.route(port: 9001)?.index == 2)
    }

    @Test func terminatingTLSServerUsesPortMatch() {
        #expect(Self.route(port: 9443, sni: "term.example.com")?.index == 0)
    }

    @Test func noBoundVSLeavesNoRoute() {
        #expect(tcpTarget(Self.table, port: 9002) == "none")
    }

    @Test func onlyTheChosenRuleContributesClusters() {
        #expect(!Self.table.clusterKeys.map(\.description).contains("outbound|9000||a-db.default.svc.cluster.local"))
    }

    @Test func chosenRuleClustersAreCollected() {
        #expect(Self.table.clusterKeys.map(\.description).contains("outbound|5432|v2|b-db.default.svc.cluster.local"))
    }

    @Test func ruleWithoutMatchFits() {
        let yaml = l4Gateway(
            """
              - port: {number: 9000, name: tcp, protocol: TCP}
                hosts: ["*"]
            """)
            + l4VS(
                "a", hosts: "[\"*\"]",
                """
                  tcp:
                  - route: [{destination: {host: a-db}}]
                """)
        let table = compile(yaml).result.table
        #expect(tcpTarget(table, port: 9000) == "outbound|9000||a-db.default.svc.cluster.local 100")
    }

    // MARK: - Gateway to VirtualService TLS mismatch (§2.10)

    static let mismatch = l4Gateway(
        """
          - port: {number: 443, name: https, protocol: HTTPS}
            hosts: [simple.example.com]
            tls: {mode: SIMPLE, credentialName: s}
          - port: {number: 8443, name: pt, protocol: TLS}
            hosts: [pt.example.com]
            tls: {mode: PASSTHROUGH}
        """)
        + l4VS(
            "tls-only", hosts: "[simple.example.com]",
            """
              tls:
              - match: [{sniHosts: [simple.example.com]}]
                route: [{destination: {host: s.internal, port: {number: 1}}}]
            """)
        + l4VS(
            "http-only", hosts: "[pt.example.com]",
            """
              http:
              - route: [{destination: {host: p.internal, port: {number: 1}}}]
            """)

    static let mismatched = compile(Self.mismatch).result

    static func mismatchWarning(_ vs: String) -> String? {
        Self.mismatched.diagnostics.first {
            $0.severity == .warning && $0.name == vs && $0.message.contains("Gateway to VirtualService TLS mismatch")
        }?.message
    }

    @Test func simpleServerWithOnlyTLSRoutesIsWarned() {
        #expect(Self.mismatchWarning("tls-only")?.contains("istio-system/gw servers[0]") == true)
    }

    @Test func simpleServerWithOnlyTLSRoutesRoutesNothing() {
        guard case .terminateHTTP(let t) = Self.mismatched.table.listener(port: 443)?.filterChains.first?.mode else {
            Issue.record("no terminating chain")
            return
        }
        let host = "simple.example.com"
        #expect(t.virtualHost(forHost: host[...])?.route(for: TestRequest(host: host)) == nil)
    }

    @Test func passthroughServerWithOnlyHTTPRoutesIsWarned() {
        #expect(Self.mismatchWarning("http-only")?.contains("istio-system/gw servers[1]") == true)
    }

    @Test func passthroughServerWithOnlyHTTPRoutesCloses() {
        #expect(chainFor(Self.mismatched.table, port: 8443, sni: "pt.example.com") == "closed")
    }

    @Test func mismatchedRoutesContributeNoClusters() {
        #expect(Self.mismatched.table.clusterKeys.isEmpty)
    }
}
