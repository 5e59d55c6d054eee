import PortcullisModel
import Testing

@testable import PortcullisRouting

/// One-level delegation (ISTIO-SEMANTICS §2.9) and CORS compilation (§2.7.4).
@Suite struct DelegationTests {
    static func table(leafExport: String = "[\"*\"]") -> RouteCompileResult {
        let yaml = gatewayYAML + """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: root, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
              - name: api
                match: [{uri: {prefix: /api}}]
                delegate: {name: leaf, namespace: team}
                timeout: 3s
              - route: [{destination: {host: fallback, port: {number: 80}}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: leaf, namespace: team}
            spec:
              exportTo: \(leafExport)
              http:
              - name: v2
                match: [{uri: {prefix: /api/v2}}, {uri: {prefix: /other}}]
                route: [{destination: {host: svc2, port: {number: 80}}}]
              - route: [{destination: {host: svc1, port: {number: 80}}}]

            """
        let (r, errors) = compile(yaml)
        #expect(errors.isEmpty)
        return r
    }

    @Test func leafMatchesAreIntersectedWithRoot() {
        let t = Self.table().table
        #expect(target(t, port: 80, TestRequest("/api/v2/x")) == "outbound|80||svc2.team.svc.cluster.local")
        #expect(target(t, port: 80, TestRequest("/other")) == "outbound|80||fallback.default.svc.cluster.local")
    }

    @Test func leafWithoutMatchInheritsRootMatch() {
        let t = Self.table().table
        #expect(target(t, port: 80, TestRequest("/api/v1")) == "outbound|80||svc1.team.svc.cluster.local")
    }

    @Test func leafInheritsRootPoliciesAndNames() {
        let h = hit(Self.table().table, port: 80, TestRequest("/api/v2"))
        #expect(h?.route.timeout == .seconds(3))
        #expect(h?.name == "api-v2")
    }

    @Test func leafNotExportedToRootIsSkipped() {
        let r = Self.table(leafExport: "[.]")
        #expect(target(r.table, port: 80, TestRequest("/api/v2")) == "outbound|80||fallback.default.svc.cluster.local")
        #expect(r.diagnostics.map(\.fieldPath) == ["spec.http[0].delegate"])
    }

    @Test func corsPolicyIsCompiled() {
        let (r, errors) = compile(withVS("""
              - route: [{destination: {host: a, port: {number: 80}}}]
                corsPolicy:
                  allowOrigins: [{exact: "https://a.com"}, {regex: "https://.*\\\\.b\\\\.com"}]
                  allowMethods: [GET, POST]
                  maxAge: 24h
                  allowCredentials: true
            """))
        #expect(errors.isEmpty)
        let cors = hit(r.table, port: 80, TestRequest())?.route.cors
        #expect(cors?.allowsOrigin("https://a.com") == true)
        #expect(cors?.allowsOrigin("https://x.b.com") == true)
        #expect(cors?.allowsOrigin("https://evil.com") == false)
        #expect(cors?.allowMethods == "GET,POST")
        #expect(cors?.maxAgeSeconds == 86_400)
        #expect(cors?.allowCredentials == true)
    }
}
