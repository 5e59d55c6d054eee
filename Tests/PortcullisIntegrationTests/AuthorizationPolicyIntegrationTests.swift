import Foundation
import Testing

/// AuthorizationPolicies are carried but not evaluated yet: the gateway must say so in its log rather than let a
/// DENY rule silently do nothing.
struct AuthorizationPolicyIntegrationTests {
    @Test func unenforcedPoliciesAreAnnouncedInTheLog() async throws {
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: vs, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http: [{directResponse: {status: 200, body: {string: ok}}}]
                """,
            "ap.yaml": """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: deny-admin, namespace: istio-system}
                spec:
                  action: DENY
                  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]
                """,
        ], extraArguments: ["--labels", "istio=ingressgateway"])
        try await gateway.waitUntilReady()
        #expect(gateway.stderrText().contains("AuthorizationPolicies are loaded but NOT enforced"))
        #expect(gateway.stderrText().contains("istio-system/deny-admin (DENY)"))
        #expect(try Curl.get("http://127.0.0.1:\(port)/").status == 200)
    }
}
