import PortcullisModel
import Testing

@testable import PortcullisRouting

/// Server merging per (bind, port) (ISTIO-SEMANTICS §1.5, §2.10).
@Suite struct ListenerTests {
    static let gateways = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: istio-system, creationTimestamp: "2020-01-01T00:00:00Z"}
        spec:
          servers:
          - port: {number: 443, name: https-a, protocol: HTTPS}
            hosts: [a.com]
            tls: {mode: SIMPLE, credentialName: a-cert}
          - port: {number: 443, name: tls-b, protocol: TLS}
            hosts: [b.com]
            tls: {mode: PASSTHROUGH}
          - port: {number: 443, name: https-dup, protocol: HTTPS}
            hosts: [a.com, c.com]
            tls: {mode: SIMPLE, credentialName: c-cert}
          - port: {number: 443, name: plain, protocol: HTTP}
            hosts: [d.com]
          - port: {number: 9000, name: tcp, protocol: TCP}
            hosts: ["*"]
          - port: {number: 9000, name: tcp2, protocol: TCP}
            hosts: ["*"]
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
            bind: 127.0.0.1
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: a, namespace: default}
        spec:
          hosts: [a.com, b.com]
          gateways: [istio-system/gw]
          http:
          - route: [{destination: {host: web, port: {number: 8080}}}]
          tls:
          - match: [{sniHosts: [b.com]}]
            route: [{destination: {host: b.internal, port: {number: 8443}}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: t, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [istio-system/gw]
          tcp:
          - route: [{destination: {host: db}}]

        """

    static let result = compile(Self.gateways).result

    @Test func listenersSortedByPortThenBind() {
        #expect(Self.result.table.listeners.map { "\($0.bind):\($0.port)" }
            == ["127.0.0.1:80", "0.0.0.0:443", "0.0.0.0:9000"])
    }

    @Test func duplicateTLSHostAndMixedProtocolsAreSkipped() {
        let l = Self.result.table.listener(port: 443)
        #expect(l?.kind == .tls)
        #expect(l?.servers.map(\.portName) == ["https-a", "tls-b"])
        #expect(Self.result.diagnostics.filter { $0.severity == .warning }.map(\.fieldPath)
            == ["spec.servers[2]", "spec.servers[3]", "spec.servers[5]"])
    }

    @Test func terminatingHTTPSServerHasOwnTable() {
        let l = Self.result.table.listener(port: 443)
        #expect(l?.serverRoutes.map { $0?.name } == ["https.443.https-a.gw.istio-system", nil])
        let vhost = l?.serverRoutes[0]?.virtualHost(forHost: "a.com")
        #expect(vhost?.route(for: TestRequest(host: "a.com")) != nil)
        #expect(l?.serverRoutes[0]?.virtualHost(forHost: "b.com") == nil)
    }

    @Test func tlsAndTCPRoutesContributeClusters() {
        let keys = Set(Self.result.table.clusterKeys.map(\.description))
        #expect(keys.contains("outbound|8443||b.internal"))
        #expect(keys.contains("outbound|9000||db.default.svc.cluster.local"))
        #expect(keys.contains("outbound|8080||web.default.svc.cluster.local"))
    }
}
