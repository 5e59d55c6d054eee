import PortcullisModel
import PortcullisRouting
import PortcullisUpstream
import Testing

/// Consistent hashing (ISTIO-SEMANTICS §3.2 `consistentHash`).
@Suite struct LoadBalancerHashRingTests {
    let endpoints = [
        Endpoint(address: "10.0.0.1", port: 80), Endpoint(address: "10.0.0.2", port: 80, weight: 3),
    ]

    @Test func policyNamesTheKeySource() {
        var settings = ConsistentHash()
        #expect(HashPolicy(nil) == nil)
        #expect(HashPolicy(settings) == nil)
        settings.httpHeaderName = "X-User"
        settings.minimumRingSize = 64
        #expect(HashPolicy(settings) == HashPolicy(source: .header(name: "x-user"), minimumRingSize: 64))
        settings = ConsistentHash()
        settings.httpCookieName = "session"
        settings.httpCookieTTL = .seconds(0)
        #expect(HashPolicy(settings)?.source == .cookie(name: "session", path: nil, ttl: .seconds(0)))
        #expect(HashPolicy(settings)?.minimumRingSize == 1024)
        settings = ConsistentHash()
        settings.useSourceIp = true
        #expect(HashPolicy(settings)?.source == .sourceIP)
        settings = ConsistentHash()
        settings.httpQueryParameterName = "u"
        #expect(HashPolicy(settings)?.source == .queryParameter(name: "u"))
    }

    @Test func sameKeyAlwaysLandsOnTheSameEndpointAndWeightsShareTheRing() throws {
        let ring = HashRing(endpoints: self.endpoints, minimumRingSize: 1024)
        var counts = [0, 0]
        for user in 0..<4_000 {
            let hash = HashRing.hash("user-\(user)")
            let owner = try #require(ring.endpoint(for: hash, excluded: { _ in false }))
            #expect(ring.endpoint(for: hash, excluded: { _ in false }) == owner)
            counts[owner] += 1
        }
        #expect(abs(counts[1] - 3_000) < 300)
    }

    @Test func excludingAnEndpointMovesOnlyItsKeys() {
        let three = self.endpoints + [Endpoint(address: "10.0.0.3", port: 80)]
        let ring = HashRing(endpoints: three, minimumRingSize: 256)
        for user in 0..<500 {
            let hash = HashRing.hash("user-\(user)")
            let owner = ring.endpoint(for: hash, excluded: { _ in false })
            let without0 = ring.endpoint(for: hash, excluded: { $0 == 0 })
            if owner == 0 { #expect(without0 != 0 && without0 != nil) } else { #expect(without0 == owner) }
        }
        #expect(ring.endpoint(for: 42, excluded: { _ in true }) == nil)
    }

    @Test func ringSizeIsBounded() {
        let ring = HashRing(endpoints: self.endpoints, minimumRingSize: 50_000_000)
        #expect(ring.count <= HashRing.maximumSize + self.endpoints.count)
        #expect(HashRing(endpoints: [], minimumRingSize: 1024).endpoint(for: 1, excluded: { _ in false }) == nil)
    }

    @Test func hashIsFixedAcrossProcessesAndReplicas() {
        // FNV-1a plus a murmur finalizer: pinned values, unlike Swift's per-process seeded Hasher.
        #expect(HashRing.hash("user-1") == 0x41A2_FCA5_C684_01C5)
        #expect(HashRing.hash("") == 0xEFD0_1F60_BA99_2926)
    }

    @Test func clusterWithConsistentHashFallsBackToRandomWithoutAKey() throws {
        var hash = ConsistentHash()
        hash.httpHeaderName = "x-user"
        let rule = Fixtures.rule(
            "api", host: "api.example.com",
            policy: Fixtures.policy { $0.loadBalancer = LoadBalancerSettings(consistentHash: hash) })
        let entry = Fixtures.entry(
            "api", hosts: ["api.example.com"],
            endpoints: [WorkloadEntry(address: "10.0.0.1"), WorkloadEntry(address: "10.0.0.2")])
        let cluster = try #require(
            Fixtures.cluster(entries: [entry], rules: [rule], key: Fixtures.key("api.example.com")))
        #expect(cluster.loadBalancer == .random)
        #expect(cluster.hashPolicy?.source == .header(name: "x-user"))
        let lb = cluster.makeLoadBalancer()
        let key = HashRing.hash("alice")
        let first = lb.pick(hash: key, active: { _ in 0 }, excluded: { _ in false })
        for _ in 0..<20 { #expect(lb.pick(hash: key, active: { _ in 0 }, excluded: { _ in false }) == first) }
        #expect(lb.pick(hash: nil, active: { _ in 0 }, excluded: { _ in false }) != nil)
    }
}
