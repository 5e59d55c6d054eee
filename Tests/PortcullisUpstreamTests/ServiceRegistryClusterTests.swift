import PortcullisModel
import PortcullisRouting
import PortcullisUpstream
import Testing

/// Kubernetes Services as clusters (CONTROL-PLANE §4.5) and the endpoint-only update.
@Suite struct ServiceRegistryClusterTests {
    let service = KubernetesService(
        meta: ObjectMeta(name: "reviews", namespace: "bookinfo"),
        ports: [
            Port(number: 9080, name: "http", protocol: .http),
            Port(number: 9443, name: "grpc-admin", protocol: .grpc, targetPort: 7443),
        ])
    let host = "reviews.bookinfo.svc.cluster.local"

    func endpoints(_ entries: [WorkloadEntry]) -> ServiceEndpoints {
        ServiceEndpoints(byService: ["bookinfo/reviews": entries])
    }

    func build(
        _ keys: Set<ClusterKey>, _ endpoints: ServiceEndpoints, rules: [DestinationRule] = []
    ) -> ClusterCatalog {
        var config = ConfigSet()
        config.services = [self.service]
        config.destinationRules = rules
        return ClusterCatalog.build(
            config: config, keys: keys, gatewayNamespace: "istio-system", endpoints: endpoints
        ).catalog
    }

    @Test func serviceHostReachesItsEndpointsOnTheSlicePort() throws {
        let key = ClusterKey(host: self.host, subset: nil, port: 9080)
        let catalog = self.build(
            [key],
            self.endpoints([
                WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080, "grpc-admin": 7443]),
                WorkloadEntry(address: "10.1.0.2", ports: ["http": 8081]),
            ]))
        let cluster = try #require(catalog[key])
        #expect(cluster.endpoints.map(\.description) == ["10.1.0.1:8080", "10.1.0.2:8081"])
        #expect(cluster.serviceEntry == "bookinfo/reviews")
        #expect(cluster.resolution == .static)
    }

    @Test func portMissingFromTheSliceFallsBackToTheNumericTargetPort() throws {
        let key = ClusterKey(host: self.host, subset: nil, port: 9443)
        let catalog = self.build([key], self.endpoints([WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080])]))
        #expect(try #require(catalog[key]).endpoints.map(\.description) == ["10.1.0.1:7443"])
    }

    @Test func undeclaredServicePortHasNoCluster() {
        let key = ClusterKey(host: self.host, subset: nil, port: 1234)
        #expect(self.build([key], self.endpoints([WorkloadEntry(address: "10.1.0.1")]))[key] == nil)
    }

    @Test func subsetsSelectOnPodLabels() throws {
        let rule = DestinationRule(
            meta: ObjectMeta(name: "reviews", namespace: "bookinfo"), host: "reviews",
            subsets: [Subset(name: "v2", labels: ["version": "v2"])])
        let key = ClusterKey(host: self.host, subset: "v2", port: 9080)
        let catalog = self.build(
            [key],
            self.endpoints([
                WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080], labels: ["version": "v1"]),
                WorkloadEntry(address: "10.1.0.2", ports: ["http": 8080], labels: ["version": "v2"]),
            ]), rules: [rule])
        #expect(try #require(catalog[key]).endpoints.map(\.address) == ["10.1.0.2"])
    }

    @Test func serviceWithoutReadyEndpointsHasAnEmptyCluster() throws {
        let key = ClusterKey(host: self.host, subset: nil, port: 9080)
        #expect(try #require(self.build([key], ServiceEndpoints())[key]).endpoints.isEmpty)
    }

    @Test func endpointUpdateKeepsTheObjectsOfUnchangedClusters() throws {
        let http = ClusterKey(host: self.host, subset: nil, port: 9080)
        let admin = ClusterKey(host: self.host, subset: nil, port: 9443)
        let before = self.build(
            [http, admin], self.endpoints([WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080])]))
        // A second pod: both ports' clusters change (9443 through the numeric targetPort).
        let after = self.build(
            [http, admin],
            self.endpoints([
                WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080]),
                WorkloadEntry(address: "10.1.0.3", ports: ["http": 8080]),
            ]))
        let (merged, changed) = before.updatingEndpoints(from: after)
        #expect(changed == [admin, http].sorted { $0.description < $1.description })
        #expect(try #require(merged[http]).endpoints.map(\.address) == ["10.1.0.1", "10.1.0.3"])

        let same = self.build(
            [http, admin],
            self.endpoints([
                WorkloadEntry(address: "10.1.0.1", ports: ["http": 8080]),
                WorkloadEntry(address: "10.1.0.3", ports: ["http": 8080]),
            ]))
        let (again, none) = merged.updatingEndpoints(from: same)
        #expect(none.isEmpty)
        let (keptHTTP, oldHTTP) = (try #require(again[http]), try #require(merged[http]))
        let (keptAdmin, oldAdmin) = (try #require(again[admin]), try #require(merged[admin]))
        #expect(keptHTTP === oldHTTP)
        #expect(keptAdmin === oldAdmin)
    }

    @Test func protocolSelectionFollowsIstio() {
        #expect(KubernetesService.portProtocol(name: "http-web", appProtocol: nil) == .http)
        #expect(KubernetesService.portProtocol(name: "grpc", appProtocol: nil) == .grpc)
        #expect(KubernetesService.portProtocol(name: "web", appProtocol: "http2") == .http2)
        #expect(KubernetesService.portProtocol(name: "tcp-db", appProtocol: nil) == .tcp)
        #expect(KubernetesService.portProtocol(name: "", appProtocol: nil) == .http)
    }
}
