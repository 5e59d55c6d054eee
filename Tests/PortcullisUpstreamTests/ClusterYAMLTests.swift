import PortcullisModel
import PortcullisRouting
import PortcullisUpstream
import Testing

/// End to end from YAML, as the server does it: the decoder's output feeds `ClusterCatalog.build`.
@Suite struct ClusterYAMLTests {
    static let yaml = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: httpbin-ext, namespace: egress}
        spec:
          hosts: [httpbin.example.com]
          ports:
          - {number: 80, name: http, protocol: HTTP}
          - {number: 443, name: https, protocol: HTTPS}
          resolution: STATIC
          endpoints:
          - {address: 10.1.0.1, labels: {version: v1}}
          - {address: 10.1.0.2, labels: {version: v2}, ports: {http: 8080}, weight: 4}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: httpbin-ext, namespace: egress}
        spec:
          host: httpbin.example.com
          trafficPolicy:
            loadBalancer: {simple: ROUND_ROBIN}
            connectionPool:
              tcp: {maxConnections: 100, connectTimeout: 30ms}
              http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
            outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
            portLevelSettings:
            - port: {number: 443}
              tls: {mode: SIMPLE, sni: httpbin.example.com}
          subsets:
          - name: v2
            labels: {version: v2}
            trafficPolicy: {loadBalancer: {simple: RANDOM}}
        """

    @Test func bookinfoStyleConfigBuildsTheExpectedClusters() throws {
        let loaded = ConfigLoader().load(yaml: Self.yaml)
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let plain = ClusterKey(host: "httpbin.example.com", subset: nil, port: 80)
        let v2 = ClusterKey(host: "httpbin.example.com", subset: "v2", port: 80)
        let tls = ClusterKey(host: "httpbin.example.com", subset: nil, port: 443)
        let (catalog, diagnostics) = ClusterCatalog.build(
            config: loaded.config, keys: [plain, v2, tls], gatewayNamespace: "istio-system")
        #expect(diagnostics.isEmpty, "\(diagnostics)")

        let p = try #require(catalog[plain])
        #expect(p.endpoints.map(\.description) == ["10.1.0.1:80", "10.1.0.2:8080"])
        #expect(p.weights == [1, 4])
        #expect(p.loadBalancer == .roundRobin)
        #expect(p.limits.maxConnections == 100)
        #expect(p.limits.connectTimeout == .milliseconds(30))
        #expect(p.limits.maxPendingRequests == 1)
        #expect(p.limits.maxRequestsPerConnection == 1)
        #expect(p.outlier?.consecutive5xx == 7)
        #expect(p.outlier?.interval == .seconds(300))
        #expect(p.outlier?.baseEjectionTime == .seconds(900))
        #expect(p.tls == nil)

        let s = try #require(catalog[v2])
        #expect(s.endpoints.map(\.address) == ["10.1.0.2"])
        #expect(s.loadBalancer == .random)
        #expect(s.limits.maxConnections == 100)

        let t = try #require(catalog[tls])
        #expect(t.tls?.mode == .simple)
        #expect(t.tls?.sni == "httpbin.example.com")
        #expect(t.loadBalancer == .leastRequest)
        #expect(t.outlier == nil)
        #expect(t.endpoints.map(\.port) == [443, 443])
    }
}
