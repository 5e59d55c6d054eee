import Foundation
import Testing

/// The two collections issue 6 added to `portcullis run --kubeconfig`, against a real kube-apiserver: the mesh
/// config (ConfigMap `istio` in the mesh root namespace, read by name) changes how undeclared hosts are answered,
/// and AuthorizationPolicies are carried in the loaded config (shown by /config_dump, not enforced).
@Suite(.serialized, .enabled(if: KubeTestCluster.available, "needs etcd + kube-apiserver from kube-test-cluster.sh"))
struct KubernetesMeshIntegrationTests {
    typealias K = KubernetesIntegrationTests

    static func meshConfigMap(_ mode: String, name: String = "istio") -> String {
        #"{apiVersion: v1, kind: ConfigMap, metadata: {name: \#(name)}, data: {mesh: "outboundTrafficPolicy:\n  mode: \#(mode)"}}"#
    }

    static func meshPatch(_ mode: String) -> String {
        #"{"data":{"mesh":"outboundTrafficPolicy:\n  mode: \#(mode)"}}"#
    }

    /// The status of `GET http://127.0.0.1:port/path` with `Host: host`.
    static func status(_ port: Int, host: String, path: String = "/") throws -> String {
        "status \(try Curl.get("http://127.0.0.1:\(port)\(path)", ["-H", "Host: \(host)"]).status)"
    }

    /// `resources` of the config dump.
    static func resources(_ gateway: GatewayProcess) async throws -> [String: Any] {
        let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/config_dump")
        let root = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return root?["resources"] as? [String: Any] ?? [:]
    }

    @Test func meshConfigMapChangesUndeclaredHostsAndAuthorizationPoliciesAreCarried() async throws {
        let cluster = try await K.startCluster()
        defer { cluster.stop() }
        try cluster.create("/api/v1/namespaces", "{apiVersion: v1, kind: Namespace, metadata: {name: istio-system}}")
        let ns = try cluster.freshNamespace("shop")
        let httpPort = try FreePort.allocate()
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/istio-system/gateways",
            """
            {apiVersion: networking.istio.io/v1, kind: Gateway, metadata: {name: gw},
             spec: {servers: [{port: {number: \(httpPort), name: http, protocol: HTTP}, hosts: ["*"]}]}}
            """)
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices",
            """
            {apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: shop},
             spec: {hosts: [shop.example.com], gateways: [istio-system/gw],
                    http: [{directResponse: {status: 200, body: {string: shop}}}]}}
            """)
        // Another ConfigMap of the mesh namespace: the field selector keeps it out (no "not the mesh config" noise).
        try cluster.create("/api/v1/namespaces/istio-system/configmaps", Self.meshConfigMap("REGISTRY_ONLY", name: "other"))

        let gateway = try GatewayProcess(
            kubeconfig: cluster.kubeconfig,
            extraArguments: [
                "--namespace", "istio-system", "--kube-watch-timeout-seconds", "5",
                "--kube-backoff-max-milliseconds", "1000",
            ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady(timeout: .seconds(60))

        // No mesh config: Istio's default (ALLOW_ANY), and at a gateway an undeclared host is a 404.
        #expect(try Self.status(httpPort, host: "elsewhere.example") == "status 404")
        #expect(try Self.status(httpPort, host: "shop.example.com") == "status 200")
        #expect(try await Self.resources(gateway)["mesh"] is NSNull)

        // REGISTRY_ONLY from the API: the sidecar's block_all answer, 502; declared hosts still route.
        try cluster.create("/api/v1/namespaces/istio-system/configmaps", Self.meshConfigMap("REGISTRY_ONLY"))
        #expect(try await K.until("status 502") { try Self.status(httpPort, host: "elsewhere.example") } == "status 502")
        #expect(try Self.status(httpPort, host: "shop.example.com") == "status 200")
        let mesh = try await Self.resources(gateway)["mesh"] as? [String: Any]
        #expect(mesh?["outbound_traffic_policy"] as? String == "REGISTRY_ONLY")
        #expect(mesh?["namespace"] as? String == "istio-system")

        // Edited back to ALLOW_ANY: the default returns; and again to REGISTRY_ONLY, then deleted.
        try cluster.patch("/api/v1/namespaces/istio-system/configmaps/istio", Self.meshPatch("ALLOW_ANY"))
        #expect(try await K.until("status 404") { try Self.status(httpPort, host: "elsewhere.example") } == "status 404")
        try cluster.patch("/api/v1/namespaces/istio-system/configmaps/istio", Self.meshPatch("REGISTRY_ONLY"))
        #expect(try await K.until("status 502") { try Self.status(httpPort, host: "elsewhere.example") } == "status 502")
        try cluster.delete("/api/v1/namespaces/istio-system/configmaps/istio")
        #expect(try await K.until("status 404") { try Self.status(httpPort, host: "elsewhere.example") } == "status 404")
        #expect(try await Self.resources(gateway)["mesh"] is NSNull)
        #expect(!gateway.stderrText().contains("is not the mesh config"))

        // An AuthorizationPolicy created through the API is in the loaded config; it is carried, not enforced.
        try cluster.create(
            "/apis/security.istio.io/v1/namespaces/\(ns)/authorizationpolicies",
            """
            {apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, metadata: {name: deny-admin},
             spec: {selector: {matchLabels: {istio: ingressgateway}}, action: DENY,
                    rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]}}
            """)
        let listed = try await K.until("deny-admin") {
            let policies = try await Self.resources(gateway)["authorization_policies"] as? [[String: Any]] ?? []
            return policies.compactMap { $0["name"] as? String }.joined(separator: ",")
        }
        #expect(listed == "deny-admin")
        let policy = try #require(
            (try await Self.resources(gateway)["authorization_policies"] as? [[String: Any]])?.first)
        #expect(policy["namespace"] as? String == ns)
        #expect(policy["action"] as? String == "DENY")
        #expect(policy["selector"] as? [String: String] == ["istio": "ingressgateway"])
        let rules = policy["rules"] as? [[String: Any]]
        let operation = ((rules?.first?["to"] as? [[String: Any]])?.first?["operation"]) as? [String: Any]
        #expect(operation?["paths"] as? [String] == ["/admin/*"])
        #expect(try Self.status(httpPort, host: "shop.example.com", path: "/admin/x") == "status 200")
        #expect(!gateway.stderrText().contains("AuthorizationPolicy is not supported"))

        // Deleting it removes it.
        try cluster.delete("/apis/security.istio.io/v1/namespaces/\(ns)/authorizationpolicies/deny-admin")
        let emptied = try await K.until("") {
            let policies = try await Self.resources(gateway)["authorization_policies"] as? [[String: Any]] ?? [["": ""]]
            return policies.compactMap { $0["name"] as? String }.joined(separator: ",")
        }
        #expect(emptied == "")
        #expect(gateway.process.isRunning)
    }

    @Test func rbacWithoutConfigMapsIsAClearError() async throws {
        let cluster = try await K.startCluster()
        defer { cluster.stop() }
        try cluster.create("/api/v1/namespaces", "{apiVersion: v1, kind: Namespace, metadata: {name: istio-system}}")
        try KubernetesOutageIntegrationTests.applyRBAC(cluster)
        try cluster.delete("/apis/rbac.authorization.k8s.io/v1/namespaces/istio-system/rolebindings/portcullis-mesh-config")
        let gateway = try GatewayProcess(
            kubeconfig: try KubernetesOutageIntegrationTests.serviceAccountKubeconfig(cluster),
            extraArguments: [
                "--namespace", "istio-system", "--kube-watch-timeout-seconds", "2",
                "--kube-backoff-max-milliseconds", "500",
            ])
        defer { _ = gateway.stop() }

        // Not ready; /ready names the refused collection and the RBAC error, and the log says what to check.
        let refused = try await K.until("refused") {
            guard let (status, body) = try? await HTTP.get(port: gateway.adminPort, path: "/ready") else {
                return "admin not answering yet"
            }
            return status == 503 && body.contains("403") && body.contains("configmaps") ? "refused" : "\(status) \(body)"
        }
        #expect(refused == "refused")
        let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(body.contains("forbidden") && body.contains("istio-system"), "\(body)")
        #expect(gateway.stderrText().contains("Kubernetes API refused access; check the gateway's credentials and RBAC"))
        #expect(gateway.stderrText().contains("configmaps"))

        // The shipped RoleBinding back: the gateway syncs and serves.
        let text = try String(contentsOfFile: K.rbac, encoding: .utf8)
        let binding = try #require(
            text.components(separatedBy: "\n---\n").first { $0.contains("kind: RoleBinding") && $0.contains("portcullis-mesh-config") })
        try cluster.create("/apis/rbac.authorization.k8s.io/v1/namespaces/istio-system/rolebindings", binding)
        try await gateway.waitUntilReady(timeout: .seconds(60))
    }
}
