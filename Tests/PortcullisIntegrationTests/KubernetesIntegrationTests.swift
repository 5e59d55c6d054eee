import Foundation
import Testing

/// `portcullis run --kubeconfig` against a real kube-apiserver (../shared/tools/kube-test-cluster.sh): objects
/// applied through the REST API become routes, edits and deletions change them, EndpointSlice changes move
/// traffic without a route rebuild, a rotated Secret reaches new handshakes, an API server restart and revoked
/// RBAC keep the last good config serving and show in /ready, the logs and the metrics.
@Suite(.serialized, .enabled(if: KubeTestCluster.available, "needs etcd + kube-apiserver from kube-test-cluster.sh"))
struct KubernetesIntegrationTests {
    static let crds = GatewayProcess.packageRoot.appendingPathComponent("config/kubernetes/00-crds.yaml").path
    static let rbac = GatewayProcess.packageRoot.appendingPathComponent("config/kubernetes/02-rbac.yaml").path

    /// CRDs from config/kubernetes, established.
    static func startCluster() async throws -> KubeTestCluster {
        let cluster = try KubeTestCluster.start()
        do {
            try cluster.apply(manifest: Self.crds)
            for plural in ["gateways", "virtualservices", "destinationrules", "serviceentries"] {
                try await cluster.waitForCollection("/apis/networking.istio.io/v1/\(plural)")
            }
            try await cluster.waitForCollection("/apis/security.istio.io/v1/authorizationpolicies")
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    static func slice(_ name: String, service: String, port: Int, pod: String?) -> String {
        let target = pod.map { ", targetRef: {kind: Pod, name: \($0)}" } ?? ""
        return """
            apiVersion: discovery.k8s.io/v1beta1
            kind: EndpointSlice
            metadata: {name: \(name), labels: {kubernetes.io/service-name: \(service)}}
            addressType: IPv4
            ports: [{name: http, port: \(port), protocol: TCP}]
            endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}\(target)}]
            """
    }

    static func tlsSecret(_ name: String, _ identity: TestCertificates.Identity) -> String {
        let crt = Data(identity.certificatePEM.utf8).base64EncodedString()
        let key = Data(identity.keyPEM.utf8).base64EncodedString()
        return "{apiVersion: v1, kind: Secret, metadata: {name: \(name)}, type: kubernetes.io/tls, "
            + "data: {tls.crt: \(crt), tls.key: \(key)}}"
    }

    /// The backend that answered `Host: host` at `path` on the gateway port, or the status when it was not 200.
    static func hit(_ port: Int, host: String, path: String = "/") throws -> String {
        let result = try Curl.get("http://127.0.0.1:\(port)\(path)", ["-H", "Host: \(host)"])
        return result.status == 200 ? (result.header("x-backend") ?? "?") : "status \(result.status)"
    }

    /// Polls until `probe` returns `expected` (bounded); returns the last answer.
    static func until(
        _ expected: String, timeout: Duration = .seconds(60), _ probe: () async throws -> String
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = try await probe()
            if last == expected { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        return last
    }

    static func metric(_ gateway: GatewayProcess, _ name: String) async throws -> Double? {
        let text = try await gateway.metrics()
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func objectsBecomeRoutesAndEndpointsSecretsAndEditsFollow() async throws {
        let cluster = try await Self.startCluster()
        defer { cluster.stop() }
        let ns = try cluster.freshNamespace("shop")
        let gwns = try cluster.freshNamespace("edge")
        let certs = try TestCertificates.shared()
        let v1 = try await TestBackend.start(name: "v1")
        let v2 = try await TestBackend.start(name: "v2")
        defer { Task { await v1.stop(); await v2.stop() } }
        let httpPort = try FreePort.allocate()
        let httpsPort = try FreePort.allocate()

        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(gwns)/gateways",
            """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: \(httpPort), name: http, protocol: HTTP}
                hosts: ["*"]
              - port: {number: \(httpsPort), name: https, protocol: HTTPS}
                hosts: ["a.example.com"]
                tls: {mode: SIMPLE, credentialName: gw-cert}
            """)
        try cluster.create("/api/v1/namespaces/\(gwns)/secrets", Self.tlsSecret("gw-cert", certs.serverA))
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices",
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop}
            spec:
              hosts: [shop.example.com, a.example.com]
              gateways: [\(gwns)/gw]
              http:
              - match: [{uri: {prefix: /v2}}]
                route: [{destination: {host: reviews, subset: v2}}]
              - route: [{destination: {host: reviews.\(ns).svc.cluster.local, port: {number: 9080}}}]
            """)
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/destinationrules",
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            """)
        // A named targetPort: the port comes from each EndpointSlice's port list.
        try cluster.create(
            "/api/v1/namespaces/\(ns)/services",
            "{apiVersion: v1, kind: Service, metadata: {name: reviews}, spec: {ports: [{name: http, port: 9080, targetPort: web}]}}")
        // Pods only for their labels (nothing runs them: this server has no scheduler or kubelet).
        try cluster.create("/api/v1/namespaces/\(ns)/serviceaccounts", "{apiVersion: v1, kind: ServiceAccount, metadata: {name: default}}")
        for (name, version) in [("reviews-v1", "v1"), ("reviews-v2", "v2")] {
            try cluster.create(
                "/api/v1/namespaces/\(ns)/pods",
                "{apiVersion: v1, kind: Pod, metadata: {name: \(name), labels: {app: reviews, version: \(version)}}, "
                    + "spec: {automountServiceAccountToken: false, containers: [{name: app, image: example/reviews}]}}")
        }
        try cluster.create(
            "/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices",
            Self.slice("reviews-v1", service: "reviews", port: v1.port, pod: "reviews-v1"))

        let gateway = try GatewayProcess(
            kubeconfig: cluster.kubeconfig,
            extraArguments: [
                "--namespace", gwns, "--labels", "istio=ingressgateway", "--kube-watch-timeout-seconds", "5",
                "--kube-backoff-max-milliseconds", "1000",
            ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady(timeout: .seconds(60))
        let ready = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(ready.1.contains("control plane: connected to kubernetes://127.0.0.1"), "\(ready.1)")

        // Routing: the short host `reviews` and the FQDN both reach the Service's ready endpoint; subset v2 has
        // no endpoint yet (503 no healthy upstream).
        #expect(try Self.hit(httpPort, host: "shop.example.com") == "v1")
        #expect(try Self.hit(httpPort, host: "shop.example.com", path: "/v2/x") == "status 503")
        for _ in 0..<10 { _ = try Self.hit(httpPort, host: "shop.example.com") }
        let v1Connections = v1.connections
        let reloadsBefore = try await Self.metric(gateway, "portcullis_config_reloads_total{result=\"success\"}")

        // Scale up: a second slice with the v2 pod. Traffic follows without a route rebuild, and the pooled
        // connections to v1 (which remains) are kept.
        try cluster.create(
            "/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices",
            Self.slice("reviews-v2", service: "reviews", port: v2.port, pod: "reviews-v2"))
        #expect(try await Self.until("v2") { try Self.hit(httpPort, host: "shop.example.com", path: "/v2/x") } == "v2")
        var answered: Set<String> = []
        for _ in 0..<20 { answered.insert(try Self.hit(httpPort, host: "shop.example.com")) }
        #expect(answered == ["v1", "v2"])
        #expect(v1.connections == v1Connections, "connections to the remaining endpoint were re-opened")
        #expect(try await Self.metric(gateway, "portcullis_config_reloads_total{result=\"success\"}") == reloadsBefore)
        #expect((try await Self.metric(gateway, "portcullis_endpoint_updates_total") ?? 0) >= 1)
        #expect(gateway.stderrText().contains("endpoints updated"))

        // Scale down: v1's slice goes away; only v2 answers.
        #expect(v1.openConnections > 0, "the gateway pools no connection to v1")
        try cluster.delete("/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices/reviews-v1")
        let onlyV2 = try await Self.until("v2") {
            var seen: Set<String> = []
            for _ in 0..<6 { seen.insert(try Self.hit(httpPort, host: "shop.example.com")) }
            return seen.sorted().joined(separator: ",")
        }
        #expect(onlyV2 == "v2")
        // The gateway's idle pooled connections to the endpoint that left are closed.
        let closed = try await Self.until("0") { String(v1.openConnections) }
        #expect(closed == "0", "idle connections to the removed endpoint stayed open")

        // Secret rotation reaches new handshakes.
        let before = try TLSCurl.get(host: "a.example.com", port: httpsPort, caFile: certs.ca.certificatePath)
        #expect(before.serverSubject?.contains("CN=a-server") == true, "\(before.verbose)")
        #expect(before.header("x-backend") == "v2")
        let rotated = Data(certs.serverARotated.certificatePEM.utf8).base64EncodedString()
        let rotatedKey = Data(certs.serverARotated.keyPEM.utf8).base64EncodedString()
        try cluster.patch(
            "/api/v1/namespaces/\(gwns)/secrets/gw-cert", #"{"data":{"tls.crt":"\#(rotated)","tls.key":"\#(rotatedKey)"}}"#)
        let subject = try await Self.until("rotated") {
            let result = try TLSCurl.get(host: "a.example.com", port: httpsPort, caFile: certs.ca.certificatePath)
            return result.serverSubject?.contains("CN=a-server-rotated") == true ? "rotated" : result.serverSubject ?? ""
        }
        #expect(subject == "rotated")

        // Editing the VirtualService moves the host; deleting it removes the route.
        try cluster.patch(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices/shop",
            #"{"spec":{"hosts":["shop2.example.com","a.example.com"]}}"#)
        #expect(try await Self.until("status 404") { try Self.hit(httpPort, host: "shop.example.com") } == "status 404")
        #expect(try Self.hit(httpPort, host: "shop2.example.com") == "v2")
        try cluster.delete("/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices/shop")
        #expect(try await Self.until("status 404") { try Self.hit(httpPort, host: "shop2.example.com") } == "status 404")

        // An invalid object is rejected with its name; the last good config keeps serving.
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices",
            "{apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: broken}, "
                + "spec: {hosts: [shop3.example.com], gateways: [\(gwns)/gw], http: [{route: [{destination: {}}]}]}}")
        let rejected = try await Self.until("rejected") {
            (try await Self.metric(gateway, "portcullis_config_reloads_total{result=\"rejected\"}") ?? 0) >= 1
                ? "rejected" : "no"
        }
        #expect(rejected == "rejected")
        #expect(gateway.stderrText().contains("broken"))
        #expect(gateway.process.isRunning)
    }
}

/// The control plane going away: an API server restart, then RBAC revoked from the gateway's ServiceAccount.
@Suite(.serialized, .enabled(if: KubeTestCluster.available, "needs etcd + kube-apiserver from kube-test-cluster.sh"))
struct KubernetesOutageIntegrationTests {
    typealias K = KubernetesIntegrationTests

    /// Creates every object of config/kubernetes/02-rbac.yaml (ServiceAccount, ClusterRole, bindings, Role).
    static func applyRBAC(_ cluster: KubeTestCluster) throws {
        let text = try String(contentsOfFile: K.rbac, encoding: .utf8)
        for document in text.components(separatedBy: "\n---\n") {
            let kind = document.split(separator: "\n").first { $0.hasPrefix("kind: ") }?.dropFirst(6) ?? ""
            let collection: String
            switch kind {
            case "ServiceAccount": collection = "/api/v1/namespaces/istio-system/serviceaccounts"
            case "ClusterRoleBinding": collection = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
            case "ClusterRole": collection = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
            case "RoleBinding": collection = "/apis/rbac.authorization.k8s.io/v1/namespaces/istio-system/rolebindings"
            case "Role": collection = "/apis/rbac.authorization.k8s.io/v1/namespaces/istio-system/roles"
            default: continue
            }
            try cluster.create(collection, document)
        }
    }

    /// A kubeconfig for the ServiceAccount `istio-system/portcullis`, with a token from the TokenRequest API.
    static func serviceAccountKubeconfig(_ cluster: KubeTestCluster) throws -> String {
        let token = try Self.serviceAccountToken(cluster)
        let ca = try Data(contentsOf: URL(fileURLWithPath: cluster.caFile)).base64EncodedString()
        let path = cluster.directory + "/sa-kubeconfig"
        try """
        apiVersion: v1
        kind: Config
        current-context: sa
        contexts: [{name: sa, context: {cluster: test, user: portcullis}}]
        clusters: [{name: test, cluster: {server: "\(cluster.server)", certificate-authority-data: \(ca)}}]
        users: [{name: portcullis, user: {token: "\(token)"}}]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A token of the ServiceAccount `istio-system/portcullis` from the TokenRequest API.
    static func serviceAccountToken(_ cluster: KubeTestCluster) throws -> String {
        let (status, body) = try cluster.request(
            "POST", "/api/v1/namespaces/istio-system/serviceaccounts/portcullis/token",
            body: #"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}"#,
            contentType: "application/json")
        guard status == 201, let data = body.data(using: .utf8),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let token = (object["status"] as? [String: Any])?["token"] as? String
        else { throw TestFailure("TokenRequest: \(status) \(body)") }
        return token
    }

    @Test func apiServerRestartAndRevokedRBACKeepTheLastGoodConfigServing() async throws {
        let cluster = try await K.startCluster()
        defer { cluster.stop() }
        try cluster.create("/api/v1/namespaces", "{apiVersion: v1, kind: Namespace, metadata: {name: istio-system}}")
        try Self.applyRBAC(cluster)
        let ns = try cluster.freshNamespace("app")
        let one = try await TestBackend.start(name: "one")
        let two = try await TestBackend.start(name: "two")
        defer { Task { await one.stop(); await two.stop() } }
        let httpPort = try FreePort.allocate()
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/istio-system/gateways",
            """
            {apiVersion: networking.istio.io/v1, kind: Gateway, metadata: {name: gw},
             spec: {selector: {istio: ingressgateway}, servers: [{port: {number: \(httpPort), name: http, protocol: HTTP}, hosts: ["*"]}]}}
            """)
        try cluster.create(
            "/apis/networking.istio.io/v1/namespaces/\(ns)/virtualservices",
            """
            {apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: app},
             spec: {hosts: [app.example.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: app}}]}]}}
            """)
        try cluster.create(
            "/api/v1/namespaces/\(ns)/services",
            "{apiVersion: v1, kind: Service, metadata: {name: app}, spec: {ports: [{port: 80, targetPort: 8080}]}}")
        try cluster.create(
            "/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices",
            """
            {apiVersion: discovery.k8s.io/v1beta1, kind: EndpointSlice, metadata: {name: app-1, labels: {kubernetes.io/service-name: app}},
             addressType: IPv4, ports: [{name: "", port: \(one.port)}], endpoints: [{addresses: ["127.0.0.1"]}]}
            """)

        // The gateway runs as the ServiceAccount with exactly the shipped RBAC.
        let gateway = try GatewayProcess(
            kubeconfig: try Self.serviceAccountKubeconfig(cluster),
            extraArguments: [
                "--labels", "istio=ingressgateway", "--kube-watch-timeout-seconds", "2",
                "--kube-backoff-max-milliseconds", "1000",
            ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady(timeout: .seconds(60))
        #expect(try K.hit(httpPort, host: "app.example.com") == "one")
        #expect(try await K.metric(gateway, "portcullis_control_plane_connected") == 1)

        // The API server goes away: the gateway keeps serving and says so in /ready, the logs and the metrics.
        let arguments = try cluster.stopAPIServer()
        let disconnected = try await K.until("disconnected") {
            let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
            return body.contains("control plane: disconnected") ? "disconnected" : body
        }
        #expect(disconnected == "disconnected")
        let (status, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(status == 200)
        #expect(body.contains("serving the last good configuration"), "\(body)")
        #expect(try K.hit(httpPort, host: "app.example.com") == "one")
        #expect(try await K.metric(gateway, "portcullis_control_plane_connected") == 0)
        #expect((try await K.metric(gateway, "portcullis_control_plane_watch_errors_total") ?? 0) > 0)
        #expect(gateway.stderrText().contains("Kubernetes API error; retrying"))

        // It comes back: the gateway resyncs and follows changes made after the restart.
        try await cluster.startAPIServer(arguments)
        let reconnected = try await K.until("connected") {
            let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
            return body.contains("control plane: connected") ? "connected" : body
        }
        #expect(reconnected == "connected")
        try cluster.patch(
            "/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices/app-1",
            #"{"ports":[{"name":"","port":\#(two.port)}]}"#)
        #expect(try await K.until("two") { try K.hit(httpPort, host: "app.example.com") } == "two")
        #expect(gateway.stderrText().contains("Kubernetes API reachable again"))

        // RBAC revoked: the next watch is refused (403). The error is clear in the logs and /ready, the metric
        // drops, and the last good config keeps serving.
        try cluster.delete("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/portcullis")
        let refused = try await K.until("refused") {
            let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
            return body.contains("403") && body.contains("disconnected") ? "refused" : body
        }
        #expect(refused == "refused")
        let (_, refusedBody) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(refusedBody.contains("forbidden") || refusedBody.contains("Forbidden"), "\(refusedBody)")
        #expect(gateway.stderrText().contains("Kubernetes API refused access; check the gateway's credentials and RBAC"))
        #expect(try await K.metric(gateway, "portcullis_control_plane_connected") == 0)
        #expect(try K.hit(httpPort, host: "app.example.com") == "two")
        #expect(gateway.process.isRunning)
    }
}

/// `portcullis run --kubernetes`: the in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, the service-account
/// token, CA and namespace files), with the token file re-read when it changes.
@Suite(.serialized, .enabled(if: KubeTestCluster.available, "needs etcd + kube-apiserver from kube-test-cluster.sh"))
struct KubernetesInClusterIntegrationTests {
    typealias K = KubernetesIntegrationTests

    @Test func serviceAccountFilesAndARotatedToken() async throws {
        let cluster = try await K.startCluster()
        defer { cluster.stop() }
        try cluster.create("/api/v1/namespaces", "{apiVersion: v1, kind: Namespace, metadata: {name: istio-system}}")
        try KubernetesOutageIntegrationTests.applyRBAC(cluster)
        let ns = try cluster.freshNamespace("app")
        let backend = try await TestBackend.start(name: "in-cluster")
        defer { Task { await backend.stop() } }
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
            {apiVersion: networking.istio.io/v1, kind: VirtualService, metadata: {name: app},
             spec: {hosts: ["*"], gateways: [istio-system/gw], http: [{route: [{destination: {host: app}}]}]}}
            """)
        try cluster.create(
            "/api/v1/namespaces/\(ns)/services",
            "{apiVersion: v1, kind: Service, metadata: {name: app}, spec: {ports: [{name: http, port: 80}]}}")
        try cluster.create(
            "/apis/discovery.k8s.io/v1beta1/namespaces/\(ns)/endpointslices",
            K.slice("app-1", service: "app", port: backend.port, pod: nil))

        // The mounted service-account directory, with a token the API server does not accept yet.
        let accountDirectory = cluster.directory + "/serviceaccount"
        try FileManager.default.createDirectory(atPath: accountDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: cluster.caFile, toPath: accountDirectory + "/ca.crt")
        try "istio-system\n".write(toFile: accountDirectory + "/namespace", atomically: true, encoding: .utf8)
        try "not-a-valid-token\n".write(toFile: accountDirectory + "/token", atomically: true, encoding: .utf8)
        let url = try #require(URL(string: cluster.server))
        let gateway = try GatewayProcess(
            source: ["--kubernetes", "--service-account-directory", accountDirectory],
            extraArguments: ["--kube-watch-timeout-seconds", "2", "--kube-backoff-max-milliseconds", "500"],
            environment: [
                "KUBERNETES_SERVICE_HOST": url.host ?? "", "KUBERNETES_SERVICE_PORT": String(url.port ?? 0),
            ])
        defer { _ = gateway.stop() }

        // 401 until the kubelet (here: the test) writes a valid token: not ready, and /ready says why.
        let unauthorized = try await K.until("401") {
            guard let (status, body) = try? await HTTP.get(port: gateway.adminPort, path: "/ready") else {
                return "admin not answering yet"
            }
            return status == 503 && body.contains("401") ? "401" : "\(status) \(body)"
        }
        #expect(unauthorized == "401")
        let token = try KubernetesOutageIntegrationTests.serviceAccountToken(cluster)
        let temporary = accountDirectory + "/.token.tmp"
        try token.write(toFile: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary, accountDirectory + "/token") == 0)
        try await gateway.waitUntilReady(timeout: .seconds(60))
        #expect(try K.hit(httpPort, host: "anything.example.com") == "in-cluster")
        // The gateway namespace came from the namespace file: the Gateway in istio-system applies, and the
        // Secrets watch (allowed by the Role only there) synced.
        let (_, body) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(body.contains("control plane: connected"), "\(body)")
    }
}

/// config/kubernetes validates against the Kubernetes schemas (`kubernetes-validate`, installed by
/// `make test-tools`) and keeps the promises the README makes about it.
@Suite struct KubernetesManifestTests {
    static let directory = GatewayProcess.packageRoot.appendingPathComponent("config/kubernetes").path

    @Test func manifestsPassKubernetesValidate() throws {
        let (probe, _, probeError) = try Command.run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--version"])
        try #require(probe == 0, "kubernetes-validate is not installed (make test-tools installs it): \(probeError)")
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { Self.directory + "/" + $0 }
        #expect(files.count == 5)
        let (status, out, err) = try Command.run(
            "/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--strict"] + files)
        #expect(status == 0, "\(out)\(err)")
        let passed = out.split(separator: "\n").filter { $0.contains(" passed for resource ") }
        // 5 CRDs, the Namespace, 7 RBAC objects, the Deployment and the Service.
        #expect(passed.count == 15, "\(out)\(err)")
    }

    @Test func deploymentCoversTheDrainAndProbesReadiness() throws {
        let text = try String(contentsOfFile: Self.directory + "/03-deployment.yaml", encoding: .utf8)
        let grace = try #require(text.firstMatch(of: /terminationGracePeriodSeconds: (\d+)/)).1
        let drain = try #require(text.firstMatch(of: /- --drain-seconds\n\s+- "(\d+)"/)).1
        #expect(Int(grace)! > Int(drain)!)
        #expect(text.contains("- --kubernetes"))
        #expect(text.contains("path: /ready"))
        #expect(text.contains("0.0.0.0:15021") && text.contains("containerPort: 15021"))
        let service = try String(contentsOfFile: Self.directory + "/04-service.yaml", encoding: .utf8)
        #expect(service.contains("type: LoadBalancer"))
    }

    @Test func rbacOnlyReads() throws {
        let text = try String(contentsOfFile: Self.directory + "/02-rbac.yaml", encoding: .utf8)
        let verbs = text.matches(of: /verbs: \[(.*)\]/).map { String($0.1) }
        #expect(verbs.count == 6)
        #expect(verbs.allSatisfy { $0 == #""get", "list", "watch""# })
    }
}
