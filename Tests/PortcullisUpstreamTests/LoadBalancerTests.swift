import PortcullisModel
import PortcullisUpstream
import Testing

/// Load-balancer picks (ISTIO-SEMANTICS §3.2), with seeded generators so distributions are reproducible.
@Suite struct LoadBalancerTests {
    static func counts(
        _ lb: LoadBalancer, picks: Int, active: (Int) -> Int = { _ in 0 }, excluded: (Int) -> Bool = { _ in false }
    ) -> [Int] {
        var counts = Array(repeating: 0, count: lb.weights.count)
        for _ in 0..<picks {
            if let i = lb.pick(active: active, excluded: excluded) { counts[i] += 1 }
        }
        return counts
    }

    @Test func kindFollowsTheSimplePolicyWithLeastRequestAsDefault() {
        #expect(LoadBalancerKind(nil) == .leastRequest)
        #expect(LoadBalancerKind(LoadBalancerSettings(simple: .unspecified)) == .leastRequest)
        #expect(LoadBalancerKind(LoadBalancerSettings(simple: .leastConn)) == .leastRequest)
        #expect(LoadBalancerKind(LoadBalancerSettings(simple: .roundRobin)) == .roundRobin)
        #expect(LoadBalancerKind(LoadBalancerSettings(simple: .random)) == .random)
        #expect(LoadBalancerKind(LoadBalancerSettings(consistentHash: ConsistentHash())) == .random)
    }

    @Test func roundRobinRotatesThroughEqualEndpoints() {
        let lb = LoadBalancer(kind: .roundRobin, weights: [1, 1, 1])
        let picks = (0..<6).compactMap { _ in lb.pick(active: { _ in 0 }, excluded: { _ in false }) }
        #expect(picks == [0, 1, 2, 0, 1, 2])
    }

    @Test func weightedRoundRobinIsExactAndInterleaved() {
        let lb = LoadBalancer(kind: .roundRobin, weights: [3, 1])
        let picks = (0..<8).compactMap { _ in lb.pick(active: { _ in 0 }, excluded: { _ in false }) }
        #expect(picks.filter { $0 == 0 }.count == 6)
        #expect(picks == [0, 0, 1, 0, 0, 0, 1, 0])
        #expect(Self.counts(lb, picks: 1000) == [750, 250])
    }

    @Test func randomFollowsWeightsWithinTolerance() {
        let lb = LoadBalancer(kind: .random, weights: [1, 2, 7], random: LoadBalancerRandom(seed: 42))
        let counts = Self.counts(lb, picks: 20_000)
        #expect(abs(counts[0] - 2_000) < 300)
        #expect(abs(counts[1] - 4_000) < 400)
        #expect(abs(counts[2] - 14_000) < 600)
    }

    @Test func leastRequestAvoidsBusyEndpoints() {
        let lb = LoadBalancer(kind: .leastRequest, weights: [1, 1, 1], random: LoadBalancerRandom(seed: 7))
        let counts = Self.counts(lb, picks: 9_000, active: { $0 == 0 ? 10 : 0 })
        // Power of two choices with replacement: the busy endpoint wins only when drawn twice (1/9).
        #expect(counts[0] < 1_500)
        #expect(counts[1] > 3_000 && counts[2] > 3_000)
    }

    @Test func leastRequestSpreadsEvenlyWhenIdle() {
        let lb = LoadBalancer(kind: .leastRequest, weights: [1, 1, 1, 1], random: LoadBalancerRandom(seed: 9))
        let counts = Self.counts(lb, picks: 8_000)
        #expect(counts.allSatisfy { abs($0 - 2_000) < 300 })
    }

    @Test func weightedLeastRequestDividesWeightByActiveRequests() {
        let lb = LoadBalancer(kind: .leastRequest, weights: [1, 2], random: LoadBalancerRandom(seed: 3))
        let idle = Self.counts(lb, picks: 9_000)
        #expect(abs(idle[1] - 6_000) < 400)
        // Endpoint 1 has 3 in flight: effective weights 1 and 2/4, so endpoint 0 now gets two thirds.
        let loaded = Self.counts(lb, picks: 9_000, active: { $0 == 1 ? 3 : 0 })
        #expect(abs(loaded[0] - 6_000) < 400)
    }

    @Test func excludedEndpointsAreNeverPicked() {
        for kind in [LoadBalancerKind.leastRequest, .roundRobin, .random] {
            let lb = LoadBalancer(kind: kind, weights: [1, 5, 1], random: LoadBalancerRandom(seed: 1))
            let counts = Self.counts(lb, picks: 300, excluded: { $0 == 1 })
            #expect(counts[1] == 0)
            #expect(counts[0] + counts[2] == 300)
            #expect(lb.pick(active: { _ in 0 }, excluded: { _ in true }) == nil)
        }
    }

    @Test func noEndpointsMeansNoPick() {
        let lb = LoadBalancer(kind: .roundRobin, weights: [])
        #expect(lb.pick(active: { _ in 0 }, excluded: { _ in false }) == nil)
    }

    @Test func retryPrefersUntriedEndpointsButFallsBackToHealthyOnes() {
        let lb = LoadBalancer(kind: .random, weights: [1, 1, 1], random: LoadBalancerRandom(seed: 5))
        for _ in 0..<50 {
            #expect(lb.pick(active: { _ in 0 }, ejected: { $0 == 0 }, tried: { $0 == 1 }) == 2)
        }
        let fallback = lb.pick(active: { _ in 0 }, ejected: { $0 == 0 }, tried: { _ in true })
        #expect(fallback == 1 || fallback == 2)
        #expect(lb.pick(active: { _ in 0 }, ejected: { _ in true }, tried: { _ in false }) == nil)
    }

    @Test func weightsBelowOneCountAsOne() {
        let lb = LoadBalancer(kind: .roundRobin, weights: [0, -3])
        #expect(lb.weights == [1, 1])
        #expect(Endpoint(address: "10.0.0.1", port: 80, weight: 0).weight == 1)
    }
}
