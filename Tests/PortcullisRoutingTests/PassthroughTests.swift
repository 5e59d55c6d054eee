import PortcullisModel
import Testing

@testable import PortcullisRouting

/// VirtualService `tls[]` routes on PASSTHROUGH servers (ISTIO-SEMANTICS §2.10, §1.3, §2.4, §6, §8.11).
@Suite struct PassthroughTests {
    static let servers = """
          - port: {number: 443, name: tls, protocol: TLS}
            hosts: ["*.example.com", "*.com", "*/*.cluster.local", "ns1/ns.example.org"]
            tls: {mode: PASSTHROUGH}
          - port: {number: 443, name: other, protocol: HTTPS}
            hosts: [z.example.net]
            tls: {mode: PASSTHROUGH}
          - port: {number: 8443, name: narrow, protocol: TLS}
            hosts: [one.example.com]
            tls: {mode: PASSTHROUGH}
        """

    static let yaml = l4Gateway(Self.servers)
        + l4VS(
            "wild", hosts: "[\"*.example.com\"]", created: "2021-01-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: ["*.example.com"], port: 443}]
                route: [{destination: {host: wild.internal, port: {number: 9443}}}]
              - match: [{sniHosts: [exact.example.com]}]
                route:
                - {destination: {host: exact-a.internal, port: {number: 9443}}, weight: 3}
                - {destination: {host: exact-b.internal, port: {number: 9443}}, weight: 1}
                - {destination: {host: never.internal, port: {number: 9443}}, weight: 0}
              - match: [{sniHosts: [port.example.com], port: 8443}]
                route: [{destination: {host: wrong-port.internal, port: {number: 9443}}}]
              - match: [{sniHosts: [gw.example.com], gateways: [istio-system/other]}]
                route: [{destination: {host: wrong-gw.internal, port: {number: 9443}}}]
              - match: [{sniHosts: [gwok.example.com], gateways: [istio-system/gw], port: 443}]
                route: [{destination: {host: gwok.internal, port: {number: 9443}}}]
            """)
        + l4VS(
            "later", hosts: "[exact.example.com, b.com]", created: "2022-01-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: [exact.example.com, b.com]}]
                route: [{destination: {host: later.internal}}]
            """)
        + l4VS(
            "short", hosts: "[db]", created: "2022-02-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: [db]}]
                route: [{destination: {host: db}}]
            """)
        + l4VS(
            "ns2", ns: "ns2", hosts: "[ns.example.org]", created: "2022-03-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: [ns.example.org]}]
                route: [{destination: {host: ns2.internal}}]
            """)
        + l4VS(
            "hidden", hosts: "[z.example.net]", created: "2022-04-01T00:00:00Z", exportTo: "[other]",
            """
              tls:
              - match: [{sniHosts: [z.example.net]}]
                route: [{destination: {host: hidden.internal}}]
            """)
        + l4VS(
            "unbound", hosts: "[z.example.net]", gateways: "[istio-system/elsewhere]",
            created: "2022-05-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: [z.example.net]}]
                route: [{destination: {host: unbound.internal}}]
            """)
        + l4VS(
            "narrowed", hosts: "[\"*.example.com\"]", created: "2022-06-01T00:00:00Z",
            """
              tls:
              - match: [{sniHosts: ["*.example.com"], port: 8443}]
                route: [{destination: {host: se.example.io}}]
            """)
        + """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: se, namespace: default}
        spec:
          hosts: [se.example.io]
          ports: [{number: 7443, name: tls, protocol: TLS}]
          resolution: DNS

        """

    static let compiled = compile(Self.yaml)
    static var table: RoutingTable { Self.compiled.result.table }

    static func target(_ sni: String?, port: Int = 443) -> String {
        passthroughTarget(Self.table, port: port, sni: sni)
    }

    static func warned(_ vs: String, _ text: String) -> Bool {
        Self.compiled.result.diagnostics.contains {
            $0.severity == .warning && $0.name == vs && $0.message.contains(text)
        }
    }

    @Test func configLoadsCleanly() {
        #expect(Self.compiled.loadErrors.isEmpty)
    }

    @Test func exactSNIBeatsEarlierWildcardRule() {
        #expect(Self.target("exact.example.com").hasPrefix("outbound|9443||exact-a.internal 3"))
    }

    @Test func wildcardRuleTakesOtherNames() {
        #expect(Self.target("x.example.com") == "outbound|9443||wild.internal 100")
    }

    @Test func wildcardRuleSpansLabels() {
        #expect(Self.target("a.b.example.com") == "outbound|9443||wild.internal 100")
    }

    @Test func weightZeroDestinationIsDropped() {
        #expect(passthroughRoute(Self.table, port: 443, sni: "exact.example.com")?.destinations.count == 2)
    }

    @Test func weightsAreRelative() {
        #expect(passthroughRoute(Self.table, port: 443, sni: "exact.example.com")?.totalWeight == 4)
    }

    @Test func pickBelowFirstWeightTakesFirst() {
        let r = passthroughRoute(Self.table, port: 443, sni: "exact.example.com")
        #expect(r?.pick(2).cluster.host == "exact-a.internal")
    }

    @Test func pickPastFirstWeightTakesSecond() {
        let r = passthroughRoute(Self.table, port: 443, sni: "exact.example.com")
        #expect(r?.pick(3).cluster.host == "exact-b.internal")
    }

    @Test func routeNamesItsRule() {
        let r = passthroughRoute(Self.table, port: 443, sni: "exact.example.com")
        let label = r.map { "\($0.virtualService) tls[\($0.index)] match[\($0.matchIndex)]" }
        #expect(label == "default/wild tls[1] match[0]")
    }

    @Test func sniClaimedByEarlierVSIsSkipped() {
        #expect(Self.warned("later", "SNI host exact.example.com is already claimed"))
    }

    @Test func unclaimedNameOfSameMatchStillRoutes() {
        #expect(Self.target("b.com") == "outbound|443||later.internal 100")
    }

    @Test func destinationPortDefaultsToServerPort() {
        #expect(Self.target("b.com").hasPrefix("outbound|443|"))
    }

    @Test func destinationPortDefaultsToOnlyServiceEntryPort() {
        #expect(Self.target("one.example.com", port: 8443) == "outbound|7443||se.example.io 100")
    }

    @Test func serverHostNarrowsWildcardSNI() {
        let r = passthroughRoute(Self.table, port: 8443, sni: "one.example.com")
        #expect(r?.serverNames == ["one.example.com"])
    }

    @Test func nameOutsideServerHostsCloses() {
        #expect(Self.target("two.example.com", port: 8443) == "closed")
    }

    @Test func matchPortMustBeServerPort() {
        #expect(Self.target("port.example.com") == "outbound|9443||wild.internal 100")
    }

    @Test func matchGatewaysMustNameThisGateway() {
        #expect(Self.target("gw.example.com") == "outbound|9443||wild.internal 100")
    }

    @Test func matchGatewaysAndPortThatFitRoute() {
        #expect(Self.target("gwok.example.com") == "outbound|9443||gwok.internal 100")
    }

    @Test func shortNamesExpandWithVSNamespace() {
        #expect(Self.target("db.default.svc.cluster.local") == "outbound|443||db.default.svc.cluster.local 100")
    }

    @Test func namespacePrefixRejectsOtherNamespace() {
        #expect(Self.target("ns.example.org") == "closed")
    }

    @Test func unexportedVSIsIgnored() {
        #expect(Self.target("z.example.net") == "closed")
    }

    @Test func noSNICloses() {
        #expect(Self.target(nil) == "closed")
    }

    @Test func unknownSNICloses() {
        #expect(Self.target("nothing.example.org") == "closed")
    }

    @Test func passthroughChainIsKeyedByRouteNames() {
        let chain = Self.table.listener(port: 443)?.filterChains.first
        #expect(chain?.serverNames == [
            "*.example.com", "exact.example.com", "gwok.example.com", "b.com", "db.default.svc.cluster.local",
        ])
    }

    @Test func routeClustersAreCollected() {
        #expect(Self.table.clusterKeys.map(\.description).contains("outbound|9443||exact-b.internal"))
    }

    @Test func filteredRuleClustersAreNotCollected() {
        #expect(!Self.table.clusterKeys.map(\.description).contains("outbound|9443||wrong-port.internal"))
    }

    @Test func sniClaimedAcrossServersOfThePortIsSkipped() {
        // The first server's `*.com` binds VS `dup` for x.com; the second server's exact x.com claim comes later.
        let yaml = l4Gateway(
            """
              - port: {number: 443, name: first, protocol: TLS}
                hosts: ["*.com"]
                tls: {mode: PASSTHROUGH}
              - port: {number: 443, name: second, protocol: TLS}
                hosts: [x.com]
                tls: {mode: PASSTHROUGH}
            """)
            + l4VS(
                "dup", hosts: "[x.com]",
                """
                  tls:
                  - match: [{sniHosts: [x.com]}]
                    route: [{destination: {host: x.internal, port: {number: 1}}}]
                """)
        #expect(chainFor(compile(yaml).result.table, port: 443, sni: "x.com") == "servers[0] first")
    }

    @Test func serverHostClaimedByTerminatingServerIsSkipped() {
        let yaml = l4Gateway(
            """
              - port: {number: 443, name: pt, protocol: TLS}
                hosts: ["*.com"]
                tls: {mode: PASSTHROUGH}
              - port: {number: 443, name: term, protocol: HTTPS}
                hosts: [x.com]
                tls: {mode: SIMPLE, credentialName: x}
            """)
            + l4VS(
                "dup", hosts: "[x.com]",
                """
                  tls:
                  - match: [{sniHosts: [x.com]}]
                    route: [{destination: {host: x.internal, port: {number: 1}}}]
                """)
        #expect(chainFor(compile(yaml).result.table, port: 443, sni: "x.com") == "servers[1] term")
    }
}
