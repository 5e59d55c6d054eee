import PortcullisModel
import Testing

@testable import PortcullisRouting

/// Server filter chains of TLS and TCP listeners, chosen by SNI (ISTIO-SEMANTICS §0 step 2, §1.4, §1.5, §8.11,
/// §8.12).
@Suite struct FilterChainTests {
    static let yaml = l4Gateway(
        """
          - port: {number: 443, name: exact, protocol: HTTPS}
            hosts: [a.example.com]
            tls: {mode: SIMPLE, credentialName: a}
          - port: {number: 443, name: wild, protocol: HTTPS}
            hosts: ["*.example.com"]
            tls: {mode: MUTUAL, credentialName: w}
          - port: {number: 443, name: com, protocol: HTTPS}
            hosts: ["*.com"]
            tls: {mode: OPTIONAL_MUTUAL, credentialName: c}
          - port: {number: 443, name: any, protocol: TLS}
            hosts: ["*"]
            tls: {mode: SIMPLE, credentialName: any}
          - port: {number: 443, name: dup, protocol: HTTPS}
            hosts: [new.org, A.example.com]
            tls: {mode: SIMPLE, credentialName: d}
          - port: {number: 8443, name: no-catch-all, protocol: HTTPS}
            hosts: [b.example.com]
            tls: {mode: SIMPLE, credentialName: b}
          - port: {number: 8443, name: default-mode, protocol: HTTPS}
            hosts: [pt.example.com]
            tls: {credentialName: ignored}
          - port: {number: 9000, name: tcp, protocol: TCP}
            hosts: ["*"]
          - port: {number: 27017, name: mongo, protocol: MONGO}
            hosts: ["*"]
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        """)
        + l4VS(
            "web", hosts: "[a.example.com, b.example.com, z.example.com]",
            """
              http:
              - route: [{destination: {host: web, port: {number: 8080}}}]
            """)
        + l4VS(
            "pt", hosts: "[pt.example.com]",
            """
              tls:
              - match: [{sniHosts: [pt.example.com]}]
                route: [{destination: {host: pt.internal, port: {number: 8443}}}]
            """)
        + l4VS(
            "t", hosts: "[\"*\"]",
            """
              tcp:
              - route: [{destination: {host: db}}]
            """)

    static let compiled = compile(Self.yaml)
    static var table: RoutingTable { Self.compiled.result.table }

    @Test func configLoadsCleanly() {
        #expect(Self.compiled.loadErrors.isEmpty)
    }

    @Test func exactNameWins() {
        #expect(chainFor(Self.table, port: 443, sni: "a.example.com") == "servers[0] exact")
    }

    @Test func sniIsCaseInsensitive() {
        #expect(chainFor(Self.table, port: 443, sni: "A.Example.COM") == "servers[0] exact")
    }

    @Test func longestWildcardBeatsShorter() {
        #expect(chainFor(Self.table, port: 443, sni: "z.example.com") == "servers[1] wild")
    }

    @Test func wildcardSpansLabels() {
        #expect(chainFor(Self.table, port: 443, sni: "a.b.com") == "servers[2] com")
    }

    @Test func unknownNameFallsToCatchAll() {
        #expect(chainFor(Self.table, port: 443, sni: "other.org") == "servers[3] any")
    }

    @Test func noSNIReachesOnlyCatchAll() {
        #expect(chainFor(Self.table, port: 443, sni: nil) == "servers[3] any")
    }

    @Test func emptySNIIsNoSNI() {
        #expect(chainFor(Self.table, port: 443, sni: "") == "servers[3] any")
    }

    @Test func wildcardDoesNotMatchItsBareDomain() {
        #expect(chainFor(Self.table, port: 443, sni: "example.com") == "servers[2] com")
    }

    @Test func serverRepeatingAHostIsSkipped() {
        // `dup` repeats a.example.com (case-insensitively), so its new.org is never served (§1.5).
        #expect(chainFor(Self.table, port: 443, sni: "new.org") == "servers[3] any")
    }

    @Test func skippedServerIsWarned() {
        let warned = Self.compiled.result.diagnostics.contains {
            $0.severity == .warning && $0.fieldPath == "spec.servers[4]" && $0.message.contains("a.example.com")
        }
        #expect(warned)
    }

    @Test func noSNIWithoutCatchAllCloses() {
        #expect(chainFor(Self.table, port: 8443, sni: nil) == "closed")
    }

    @Test func unknownSNIWithoutCatchAllCloses() {
        #expect(chainFor(Self.table, port: 8443, sni: "c.example.com") == "closed")
    }

    @Test func chainsAlignWithServers() {
        let l = Self.table.listener(port: 443)
        #expect(l?.filterChains.map(\.serverIndex) == [0, 1, 2, 3])
    }

    @Test func chainServerNamesAreServerHosts() {
        let l = Self.table.listener(port: 443)
        #expect(l?.filterChains.map(\.serverNames) == [["a.example.com"], ["*.example.com"], ["*.com"], ["*"]])
    }

    @Test func httpListenerHasNoChains() {
        #expect(Self.table.listener(port: 80)?.filterChains.isEmpty == true)
    }

    @Test func simpleHTTPSTerminatesToHTTP() {
        #expect(modeFor(Self.table, port: 443, sni: "a.example.com") == "terminateHTTP")
    }

    @Test func mutualHTTPSTerminatesToHTTP() {
        #expect(modeFor(Self.table, port: 443, sni: "z.example.com") == "terminateHTTP")
    }

    @Test func optionalMutualHTTPSTerminatesToHTTP() {
        #expect(modeFor(Self.table, port: 443, sni: "x.com") == "terminateHTTP")
    }

    @Test func simpleTLSTerminatesToTCP() {
        #expect(modeFor(Self.table, port: 443, sni: "x.org") == "terminateTCP")
    }

    @Test func terminatingTLSUsesTCPRoute() {
        #expect(tcpTarget(Self.table, port: 443, sni: "x.org") == "outbound|443||db.default.svc.cluster.local 100")
    }

    @Test func tlsWithoutModeIsPassthrough() {
        // §8.11: the enum default is PASSTHROUGH; credentialName alone does not terminate.
        #expect(modeFor(Self.table, port: 8443, sni: "pt.example.com") == "passthrough")
    }

    @Test func tcpServerIsPlainTCP() {
        #expect(modeFor(Self.table, port: 9000, sni: nil) == "plainTCP")
    }

    @Test func tcpListenerIgnoresSNI() {
        #expect(chainFor(Self.table, port: 9000, sni: "anything.example.com") == "servers[0] tcp")
    }

    @Test func mongoServerIsPlainTCP() {
        #expect(modeFor(Self.table, port: 27017, sni: nil) == "plainTCP")
    }

    static func terminatingTable(port: Int, sni: String) -> HTTPRouteTable? {
        guard case .terminateHTTP(let t) = Self.table.listener(port: port)?.filterChain(forServerName: sni)?.mode
        else { return nil }
        return t
    }

    @Test func terminatingChainUsesOwnServerTable() {
        #expect(Self.terminatingTable(port: 443, sni: "a.example.com")?.name == "https.443.exact.gw.istio-system")
    }

    @Test func terminatingChainRoutesItsHost() {
        let vhost = Self.terminatingTable(port: 443, sni: "a.example.com")?.virtualHost(forHost: "a.example.com")
        #expect(vhost?.route(for: TestRequest(host: "a.example.com")) != nil)
    }

    @Test func sniAWithHostBIsNotFound() {
        // §8.12: SNI a.example.com selects server `exact`; z.example.com is only on server `wild` -> 404.
        #expect(Self.terminatingTable(port: 443, sni: "a.example.com")?.virtualHost(forHost: "z.example.com") == nil)
    }
}
