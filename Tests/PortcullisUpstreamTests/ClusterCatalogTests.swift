import PortcullisModel
import PortcullisRouting
import PortcullisUpstream
import Testing

/// ServiceEntry resolution, endpoints and defaults (ISTIO-SEMANTICS §3.3, §3.4, §4).
@Suite struct ClusterCatalogTests {
    let key = ClusterKey(host: "api.example.com", subset: nil, port: 80)
    let twoEndpoints = [
        WorkloadEntry(address: "10.0.0.1", labels: ["version": "v1"]),
        WorkloadEntry(address: "10.0.0.2", labels: ["version": "v2"], weight: 3),
    ]

    @Test func exactHostGetsClusterWithIstioDefaults() throws {
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        let cluster = try #require(Fixtures.cluster(entries: [entry], key: self.key))
        #expect(cluster.name == "outbound|80||api.example.com")
        #expect(cluster.serviceEntry == "default/api")
        #expect(cluster.resolution == .static)
        #expect(cluster.endpoints.map(\.description) == ["10.0.0.1:80", "10.0.0.2:80"])
        #expect(cluster.weights == [1, 3])
        #expect(cluster.loadBalancer == .leastRequest)
        #expect(cluster.limits == ConnectionLimits())
        #expect(cluster.limits.connectTimeout == .seconds(10))
        #expect(cluster.limits.maxConnections == Int.max)
        #expect(cluster.limits.maxPendingRequests == Int.max)
        #expect(cluster.limits.maxRequests == Int.max)
        #expect(cluster.limits.maxRequestsPerConnection == 0)
        #expect(cluster.limits.idleTimeout == .seconds(3600))
        #expect(cluster.outlier == nil)
        #expect(cluster.tls == nil)
        #expect(cluster.upstreamProtocol == .http1)
        #expect(cluster.destinationRules.isEmpty)
    }

    @Test func hostWithoutServiceEntryGetsNoCluster() {
        let entry = Fixtures.entry("other", hosts: ["other.example.com"], endpoints: self.twoEndpoints)
        let (catalog, diagnostics) = Fixtures.build(entries: [entry], keys: [self.key])
        #expect(catalog[self.key] == nil)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.severity == .warning)
        #expect(diagnostics.first?.message.contains("api.example.com") == true)
    }

    @Test func undeclaredPortGetsNoCluster() {
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        let key = ClusterKey(host: "api.example.com", subset: nil, port: 8080)
        let (catalog, diagnostics) = Fixtures.build(entries: [entry], keys: [key])
        #expect(catalog[key] == nil)
        #expect(diagnostics.first?.kind == "ServiceEntry")
        #expect(diagnostics.first?.fieldPath == "spec.ports")
    }

    @Test func subsetNotDefinedAnywhereGetsNoCluster() {
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        let rule = Fixtures.rule("api", host: "api.example.com", subsets: [Subset(name: "v1")])
        let key = ClusterKey(host: "api.example.com", subset: "v2", port: 80)
        #expect(Fixtures.cluster(entries: [entry], rules: [rule], key: key) == nil)
        #expect(Fixtures.cluster(entries: [entry], key: key) == nil)
    }

    @Test func subsetFiltersEndpointsByLabels() throws {
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        let rule = Fixtures.rule(
            "api", host: "api.example.com",
            subsets: [
                Subset(name: "v2", labels: ["version": "v2"]), Subset(name: "all"),
                Subset(name: "v9", labels: ["version": "v9"]),
            ])
        let catalog = Fixtures.build(
            entries: [entry], rules: [rule],
            keys: ["v2", "all", "v9"].map { ClusterKey(host: "api.example.com", subset: $0, port: 80) }
        ).catalog
        let v2 = try #require(catalog[ClusterKey(host: "api.example.com", subset: "v2", port: 80)])
        #expect(v2.endpoints.map(\.address) == ["10.0.0.2"])
        #expect(v2.name == "outbound|80|v2|api.example.com")
        let all = try #require(catalog[ClusterKey(host: "api.example.com", subset: "all", port: 80)])
        #expect(all.endpoints.count == 2)
        // A subset matching nothing still has a cluster: the proxy answers 503 UH, not NC (§8 item 8).
        let none = try #require(catalog[ClusterKey(host: "api.example.com", subset: "v9", port: 80)])
        #expect(none.endpoints.isEmpty)
    }

    @Test func endpointPortPrecedenceIsNamedPortThenTargetPortThenNumber() throws {
        let ports = [
            Port(number: 80, name: "http", protocol: .http, targetPort: 8080),
            Port(number: 90, name: "plain", protocol: .http),
        ]
        let entry = Fixtures.entry(
            "api", hosts: ["api.example.com"], ports: ports,
            endpoints: [
                WorkloadEntry(address: "10.0.0.1", ports: ["http": 9999]),
                WorkloadEntry(address: "10.0.0.2"),
            ])
        let keys = [80, 90].map { ClusterKey(host: "api.example.com", subset: nil, port: $0) }
        let catalog = Fixtures.build(entries: [entry], keys: keys).catalog
        #expect(catalog[keys[0]]?.endpoints.map(\.port) == [9999, 8080])
        #expect(catalog[keys[1]]?.endpoints.map(\.port) == [90, 90])
    }

    @Test func dnsWithoutEndpointsResolvesTheHostItself() throws {
        let ports = [Port(number: 443, name: "https", protocol: .https, targetPort: 8443)]
        let entry = Fixtures.entry(
            "cnn", hosts: ["edition.cnn.com", "www.cnn.com"], ports: ports, resolution: .dns)
        let key = ClusterKey(host: "www.cnn.com", subset: nil, port: 443)
        let cluster = try #require(Fixtures.cluster(entries: [entry], key: key))
        #expect(cluster.endpoints == [Endpoint(address: "www.cnn.com", port: 8443)])
        #expect(cluster.needsDNS)
    }

    @Test func dnsRoundRobinKeepsOneEndpoint() throws {
        let entry = Fixtures.entry(
            "api", hosts: ["api.example.com"], resolution: .dnsRoundRobin,
            endpoints: [WorkloadEntry(address: "a.example.net"), WorkloadEntry(address: "b.example.net")])
        let cluster = try #require(Fixtures.cluster(entries: [entry], key: self.key))
        #expect(cluster.endpoints.map(\.address) == ["a.example.net"])
    }

    @Test func wildcardEntryCoversHostsOnlyWhenItNamesEndpoints() {
        let key = ClusterKey(host: "en.wikipedia.org", subset: nil, port: 80)
        let staticEntry = Fixtures.entry(
            "wiki", hosts: ["*.wikipedia.org"], endpoints: [WorkloadEntry(address: "10.1.1.1")])
        #expect(Fixtures.cluster(entries: [staticEntry], key: key)?.endpoints.count == 1)
        let dnsEntry = Fixtures.entry("wiki", hosts: ["*.wikipedia.org"], resolution: .dns)
        #expect(Fixtures.cluster(entries: [dnsEntry], key: key) == nil)
        let noneEntry = Fixtures.entry("wiki", hosts: ["*.wikipedia.org"], resolution: .none)
        #expect(Fixtures.cluster(entries: [noneEntry], key: key) == nil)
    }

    @Test func exactEntryBeatsWildcardEntry() {
        let wildcard = Fixtures.entry(
            "a-wild", hosts: ["*.example.com"], endpoints: [WorkloadEntry(address: "10.9.9.9")])
        let exact = Fixtures.entry("z-exact", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        #expect(Fixtures.cluster(entries: [wildcard, exact], key: self.key)?.serviceEntry == "default/z-exact")
    }

    @Test func entryMustBeExportedToTheGatewayNamespace() {
        let hidden = Fixtures.entry(
            "api", namespace: "apps", hosts: ["api.example.com"], endpoints: self.twoEndpoints, exportTo: ["."])
        #expect(Fixtures.cluster(entries: [hidden], key: self.key) == nil)
        #expect(Fixtures.cluster(entries: [hidden], key: self.key, gatewayNamespace: "apps") != nil)
        let nobody = Fixtures.entry(
            "api", hosts: ["api.example.com"], endpoints: self.twoEndpoints, exportTo: ["~"])
        #expect(Fixtures.cluster(entries: [nobody], key: self.key) == nil)
        let named = Fixtures.entry(
            "api", namespace: "apps", hosts: ["api.example.com"], endpoints: self.twoEndpoints,
            exportTo: ["istio-system"])
        #expect(Fixtures.cluster(entries: [named], key: self.key) != nil)
    }

    @Test func resolutionNoneHasNoEndpointsAndWarns() throws {
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], resolution: .none)
        let (catalog, diagnostics) = Fixtures.build(entries: [entry], keys: [self.key])
        #expect(try #require(catalog[self.key]).endpoints.isEmpty)
        #expect(diagnostics.contains { $0.fieldPath == "spec.resolution" })
    }

    @Test func upstreamProtocolFollowsPortProtocolAndUpgradePolicy() throws {
        let ports = [
            Port(number: 80, name: "http", protocol: .http), Port(number: 81, name: "grpc", protocol: .grpc),
        ]
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], ports: ports, endpoints: self.twoEndpoints)
        let keys = [80, 81].map { ClusterKey(host: "api.example.com", subset: nil, port: $0) }
        let plain = Fixtures.build(entries: [entry], keys: keys).catalog
        #expect(plain[keys[0]]?.upstreamProtocol == .http1)
        #expect(plain[keys[1]]?.upstreamProtocol == .http2)
        var http = ConnectionPoolSettings.HTTP()
        http.h2UpgradePolicy = "UPGRADE"
        let rule = Fixtures.rule(
            "api", host: "api.example.com",
            policy: Fixtures.policy { $0.connectionPool = ConnectionPoolSettings(http: http) })
        let upgraded = Fixtures.build(entries: [entry], rules: [rule], keys: keys).catalog
        #expect(upgraded[keys[0]]?.upstreamProtocol == .http2)
    }

    @Test func tlsDisableIsPlaintextAndServiceEntrySANsFillIn() throws {
        let entry = Fixtures.entry(
            "api", hosts: ["api.example.com"], endpoints: self.twoEndpoints, subjectAltNames: ["se-san"])
        func tls(_ settings: ClientTLSSettings) -> ClientTLSSettings? {
            let rule = Fixtures.rule("api", host: "api.example.com", policy: Fixtures.policy { $0.tls = settings })
            return Fixtures.cluster(entries: [entry], rules: [rule], key: self.key)?.tls
        }
        #expect(tls(Fixtures.tls(.disable)) == nil)
        #expect(tls(Fixtures.tls(.simple))?.subjectAltNames == ["se-san"])
        #expect(tls(Fixtures.tls(.simple, sans: ["dr-san"]))?.subjectAltNames == ["dr-san"])
    }

    @Test func connectionPoolAndOutlierBlocksMapToLimits() throws {
        var tcp = ConnectionPoolSettings.TCP()
        tcp.maxConnections = 7
        tcp.connectTimeout = .milliseconds(30)
        tcp.idleTimeout = .seconds(5)
        var http = ConnectionPoolSettings.HTTP()
        http.http1MaxPendingRequests = 3
        http.maxRequestsPerConnection = 1
        http.idleTimeout = .seconds(9)
        var outlier = OutlierDetection()
        outlier.consecutiveGatewayErrors = 2
        let rule = Fixtures.rule(
            "api", host: "api.example.com",
            policy: Fixtures.policy {
                $0.connectionPool = ConnectionPoolSettings(tcp: tcp, http: http)
                $0.outlierDetection = outlier
            })
        let entry = Fixtures.entry("api", hosts: ["api.example.com"], endpoints: self.twoEndpoints)
        let cluster = try #require(Fixtures.cluster(entries: [entry], rules: [rule], key: self.key))
        #expect(cluster.limits.maxConnections == 7)
        #expect(cluster.limits.connectTimeout == .milliseconds(30))
        #expect(cluster.limits.maxPendingRequests == 3)
        #expect(cluster.limits.maxRequestsPerConnection == 1)
        #expect(cluster.limits.idleTimeout == .seconds(9))
        #expect(cluster.outlier == OutlierPolicy(consecutiveGatewayErrors: 2))
        #expect(cluster.outlier?.consecutive5xx == 5)
        #expect(cluster.outlier?.maxEjectionPercent == 10)
        #expect(cluster.destinationRules == ["default/api"])
    }
}
