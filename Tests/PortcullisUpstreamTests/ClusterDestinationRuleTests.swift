import PortcullisModel
import PortcullisRouting
import PortcullisUpstream
import Testing

/// DestinationRule lookup (ISTIO-SEMANTICS §3.1) and merge semantics (§3.6), one rule per test.
@Suite struct ClusterDestinationRuleTests {
    let host = "reviews.bookinfo.svc.cluster.local"
    var entry: ServiceEntry {
        Fixtures.entry(
            "reviews", namespace: "bookinfo", hosts: [self.host],
            ports: [Fixtures.http80, Port(number: 443, name: "https", protocol: .https)],
            endpoints: [
                WorkloadEntry(address: "10.0.0.1", labels: ["version": "v1"]),
                WorkloadEntry(address: "10.0.0.2", labels: ["version": "v2"]),
            ])
    }

    func cluster(_ rules: [DestinationRule], subset: String? = nil, port: Int = 80) -> Cluster? {
        Fixtures.cluster(
            entries: [self.entry], rules: rules, key: ClusterKey(host: self.host, subset: subset, port: port))
    }

    static func roundRobin(maxConnections: Int? = nil) -> TrafficPolicy {
        Fixtures.policy {
            $0.loadBalancer = LoadBalancerSettings(simple: .roundRobin)
            if let maxConnections { $0.connectionPool = Fixtures.pool(maxConnections: maxConnections) }
        }
    }

    @Test func shortHostExpandsWithTheRuleNamespace() {
        let rule = Fixtures.rule("r", namespace: "bookinfo", host: "reviews", policy: Self.roundRobin())
        #expect(self.cluster([rule])?.loadBalancer == .roundRobin)
        let elsewhere = Fixtures.rule("r", namespace: "other", host: "reviews", policy: Self.roundRobin())
        #expect(self.cluster([elsewhere])?.loadBalancer == .leastRequest)
    }

    @Test func exactHostBeatsWildcardAndLongerWildcardBeatsShorter() {
        let random = Fixtures.policy { $0.loadBalancer = LoadBalancerSettings(simple: .random) }
        let wide = Fixtures.rule("a", namespace: "bookinfo", host: "*.cluster.local", policy: random)
        let narrow = Fixtures.rule("b", namespace: "bookinfo", host: "*.svc.cluster.local", policy: Self.roundRobin())
        #expect(self.cluster([wide, narrow])?.loadBalancer == .roundRobin)
        let exact = Fixtures.rule("c", namespace: "bookinfo", host: self.host, policy: random)
        #expect(self.cluster([wide, narrow, exact])?.loadBalancer == .random)
    }

    @Test func gatewayNamespaceThenServiceNamespaceThenRootNamespace() {
        let random = Fixtures.policy { $0.loadBalancer = LoadBalancerSettings(simple: .random) }
        let root = Fixtures.rule("root", namespace: "istio-system", host: self.host, policy: random)
        let service = Fixtures.rule("svc", namespace: "bookinfo", host: self.host, policy: Self.roundRobin())
        // The gateway lives in istio-system, which is also the root namespace here: its own rule wins.
        #expect(self.cluster([service, root])?.loadBalancer == .random)
        let gateway = Fixtures.key(self.host)
        let fromApps = Fixtures.build(
            entries: [self.entry], rules: [service, root], keys: [gateway], gatewayNamespace: "apps"
        ).catalog[gateway]
        #expect(fromApps?.loadBalancer == .roundRobin)
        let onlyRoot = Fixtures.build(
            entries: [self.entry], rules: [root], keys: [gateway], gatewayNamespace: "apps"
        ).catalog[gateway]
        #expect(onlyRoot?.loadBalancer == .random)
    }

    @Test func ruleMustBeExportedToTheGateway() {
        let privateRule = Fixtures.rule(
            "r", namespace: "bookinfo", host: self.host, policy: Self.roundRobin(), exportTo: ["."])
        #expect(self.cluster([privateRule])?.loadBalancer == .leastRequest)
        let exported = Fixtures.rule(
            "r", namespace: "bookinfo", host: self.host, policy: Self.roundRobin(), exportTo: ["istio-system"])
        #expect(self.cluster([exported])?.loadBalancer == .roundRobin)
    }

    /// §3.6 rule 1.
    @Test func portLevelSettingsReplaceTopLevelInsteadOfInheriting() throws {
        var port443 = PortTrafficPolicy(port: 443)
        port443.tls = Fixtures.tls(.simple)
        var policy = Self.roundRobin(maxConnections: 10)
        policy.portLevelSettings = [port443]
        let rule = Fixtures.rule("r", namespace: "bookinfo", host: self.host, policy: policy)
        let tlsPort = try #require(self.cluster([rule], port: 443))
        #expect(tlsPort.tls?.mode == .simple)
        #expect(tlsPort.loadBalancer == .leastRequest)
        #expect(tlsPort.limits.maxConnections == Int.max)
        let plainPort = try #require(self.cluster([rule], port: 80))
        #expect(plainPort.tls == nil)
        #expect(plainPort.loadBalancer == .roundRobin)
        #expect(plainPort.limits.maxConnections == 10)
    }

    /// §3.6 rule 2, block replacement without deep merge.
    @Test func subsetBlockReplacesTheWholeBlock() throws {
        let subsetPolicy = Fixtures.policy { $0.connectionPool = Fixtures.pool(http2MaxRequests: 5) }
        let rule = Fixtures.rule(
            "r", namespace: "bookinfo", host: self.host, policy: Self.roundRobin(maxConnections: 10),
            subsets: [Subset(name: "v1", labels: ["version": "v1"], trafficPolicy: subsetPolicy)])
        let v1 = try #require(self.cluster([rule], subset: "v1"))
        #expect(v1.limits.maxRequests == 5)
        #expect(v1.limits.maxConnections == Int.max)
        #expect(v1.loadBalancer == .roundRobin)
        #expect(v1.endpoints.map(\.address) == ["10.0.0.1"])
    }

    /// §3.6 rule 2, subset port-level entry.
    @Test func subsetPortLevelEntryReplacesAllFourBlocks() throws {
        var subsetPort = PortTrafficPolicy(port: 80)
        subsetPort.connectionPool = Fixtures.pool(maxConnections: 3)
        var drPolicy = Self.roundRobin()
        drPolicy.outlierDetection = OutlierDetection()
        let subsetPolicy = Fixtures.policy {
            $0.portLevelSettings = [subsetPort]
            $0.loadBalancer = LoadBalancerSettings(simple: .random)
        }
        let rule = Fixtures.rule(
            "r", namespace: "bookinfo", host: self.host, policy: drPolicy,
            subsets: [Subset(name: "v1", labels: ["version": "v1"], trafficPolicy: subsetPolicy)])
        let v1 = try #require(self.cluster([rule], subset: "v1"))
        #expect(v1.limits.maxConnections == 3)
        #expect(v1.loadBalancer == .leastRequest)
        #expect(v1.outlier == nil)
        // On another port the subset's top-level blocks replace the rule's one by one.
        let v1tls = try #require(self.cluster([rule], subset: "v1", port: 443))
        #expect(v1tls.loadBalancer == .random)
        #expect(v1tls.outlier != nil)
    }

    @Test func subsetPolicyAppliesOnlyWhenTheRouteNamesTheSubset() {
        let subsetPolicy = Fixtures.policy { $0.loadBalancer = LoadBalancerSettings(simple: .random) }
        let rule = Fixtures.rule(
            "r", namespace: "bookinfo", host: self.host,
            subsets: [Subset(name: "v1", labels: ["version": "v1"], trafficPolicy: subsetPolicy)])
        #expect(self.cluster([rule])?.loadBalancer == .leastRequest)
        #expect(self.cluster([rule])?.endpoints.count == 2)
        #expect(self.cluster([rule], subset: "v1")?.loadBalancer == .random)
    }

    /// §3.6 rule 3.
    @Test func severalRulesMergeInCreationOrder() throws {
        let later = Fixtures.rule(
            "a-later", namespace: "bookinfo", host: self.host,
            policy: Fixtures.policy { $0.loadBalancer = LoadBalancerSettings(simple: .random) },
            subsets: [Subset(name: "v1", labels: ["version": "v2"]), Subset(name: "v2", labels: ["version": "v2"])],
            created: "2024-02-01T00:00:00Z")
        let earlier = Fixtures.rule(
            "z-earlier", namespace: "bookinfo", host: self.host, policy: Self.roundRobin(),
            subsets: [Subset(name: "v1", labels: ["version": "v1"])], created: "2024-01-01T00:00:00Z")
        let v1 = try #require(self.cluster([later, earlier], subset: "v1"))
        #expect(v1.loadBalancer == .roundRobin)
        #expect(v1.endpoints.map(\.address) == ["10.0.0.1"])
        #expect(v1.destinationRules == ["bookinfo/z-earlier", "bookinfo/a-later"])
        #expect(self.cluster([later, earlier], subset: "v2")?.endpoints.map(\.address) == ["10.0.0.2"])
    }

    @Test func firstNonNilTrafficPolicyWinsEvenIfAnEarlierRuleHasNone() {
        let first = Fixtures.rule(
            "a", namespace: "bookinfo", host: self.host, subsets: [Subset(name: "v1")], created: "2024-01-01T00:00:00Z")
        let second = Fixtures.rule(
            "b", namespace: "bookinfo", host: self.host, policy: Self.roundRobin(), created: "2024-01-02T00:00:00Z")
        #expect(self.cluster([second, first])?.loadBalancer == .roundRobin)
    }

    @Test func workloadSelectorRulesApplyOnlyToMatchingGateways() {
        let selected = Fixtures.rule(
            "sel", host: self.host, policy: Self.roundRobin(), workloadSelector: ["istio": "egressgateway"])
        let key = Fixtures.key(self.host)
        func lb(_ labels: [String: String]?, namespace: String = "default") -> LoadBalancerKind? {
            Fixtures.cluster(
                entries: [self.entry], rules: [selected], key: key, gatewayNamespace: namespace,
                workloadLabels: labels)?.loadBalancer
        }
        #expect(lb(nil) == .leastRequest)
        #expect(lb(["istio": "ingressgateway"]) == .leastRequest)
        #expect(lb(["istio": "egressgateway", "app": "x"]) == .roundRobin)
        #expect(lb(["istio": "egressgateway"], namespace: "istio-system") == .leastRequest)
    }
}

extension Fixtures {
    static func key(_ host: String, subset: String? = nil, port: Int = 80) -> ClusterKey {
        ClusterKey(host: host, subset: subset, port: port)
    }
}
