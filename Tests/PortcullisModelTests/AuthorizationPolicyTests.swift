import PortcullisModel
import Testing

/// `security.istio.io` AuthorizationPolicy (ISTIO-SEMANTICS §5): read and carried, not enforced.
struct AuthorizationPolicyTests {
    private func load(_ yaml: String) -> ConfigLoadResult {
        ConfigLoader().load(yaml: yaml, file: "ap.yaml")
    }

    @Test func envelopeIsDecodedAndRulesAreKeptAsWritten() throws {
        let result = self.load(
            """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ingress-policy, namespace: istio-system}
            spec:
              selector: {matchLabels: {istio: ingressgateway}}
              action: DENY
              rules:
              - from: [{source: {remoteIpBlocks: ["1.2.3.4", "5.6.7.0/24"]}}]
                to: [{operation: {methods: ["GET"], ports: ["8080"], paths: ["/status/*"]}}]
                when: [{key: "request.headers[x-api-key]", values: ["secret*"]}]
              - {}
            """)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let policy = try #require(result.config.authorizationPolicies.first)
        #expect(result.config.authorizationPolicies.count == 1)
        #expect(policy.meta.name == "ingress-policy" && policy.meta.namespace == "istio-system")
        #expect(policy.selector == ["istio": "ingressgateway"])
        #expect(policy.action == .deny)
        #expect(policy.rules.count == 2)
        #expect(policy.rules[1] == .map([]))
        let to = policy.rules[0]["to"]
        #expect(to == .list([.map([("operation", .map([
            ("methods", .list([.string("GET")])), ("ports", .list([.string("8080")])),
            ("paths", .list([.string("/status/*")])),
        ]))])]))
        #expect(policy.rules[0]["when"] == .list([.map([
            ("key", .string("request.headers[x-api-key]")), ("values", .list([.string("secret*")])),
        ])]))
    }

    @Test func defaultsAndV1beta1() throws {
        let result = self.load(
            """
            apiVersion: security.istio.io/v1beta1
            kind: AuthorizationPolicy
            metadata: {name: allow-nothing, namespace: shop}
            spec: {}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext, namespace: shop}
            spec:
              action: CUSTOM
              provider: {name: my-ext-authz}
              targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
              rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]
            """)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let policies = result.config.authorizationPolicies
        #expect(policies.map(\.meta.name) == ["allow-nothing", "ext"])
        #expect(policies[0].action == .allow && policies[0].selector == nil && policies[0].rules.isEmpty)
        #expect(policies[1].action == .custom && policies[1].provider == "my-ext-authz")
        #expect(policies[1].targetRefs.first?["name"] == .string("gw"))
    }

    @Test func wrongShapesAreErrorsNamingTheField() {
        let result = self.load(
            """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: bad, namespace: shop}
            spec:
              action: BLOCK
              rules: ["not a rule"]
              selectors: {}
            """)
        #expect(result.config.authorizationPolicies.isEmpty)
        #expect(result.errors.contains { $0.fieldPath == "spec.action" && $0.kind == "AuthorizationPolicy" })
        #expect(result.errors.contains { $0.fieldPath == "spec.rules[0]" })
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.fieldPath == "spec.selectors" })
    }

    @Test func otherSecurityKindsAreStillSkippedWithAWarning() {
        let result = self.load(
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: istio-system}
            spec: {mtls: {mode: STRICT}}
            """)
        #expect(result.errors.isEmpty)
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.message.contains("not supported") })
    }
}
