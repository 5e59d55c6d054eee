import PortcullisModel

/// The load-balancing algorithms a cluster can use (DestinationRule `loadBalancer.simple`, ISTIO-SEMANTICS §3.2).
///
/// There is no consistent-hash kind: a hashing cluster carries a `HashRing` (see `Cluster.hashPolicy`) and its kind
/// is `.random`, which is what Envoy does for a request that yields no hash key (§3.2 "a missing header or
/// parameter → no hash → random pick").
public enum LoadBalancerKind: Sendable, Hashable {
    /// Istio's default (`UNSPECIFIED`, `LEAST_REQUEST`, `LEAST_CONN`): power of two choices.
    case leastRequest
    case roundRobin
    case random

    /// Maps the DestinationRule block to an algorithm; nil block or `UNSPECIFIED` = LEAST_REQUEST (§3.2).
    /// `PASSTHROUGH` (original destination, which at a gateway is the gateway itself) falls back to the default.
    public init(_ settings: LoadBalancerSettings?) {
        guard let settings else {
            self = .leastRequest
            return
        }
        if settings.consistentHash != nil {
            self = .random
            return
        }
        switch settings.simple ?? .unspecified {
        case .unspecified, .leastRequest, .leastConn, .passthrough: self = .leastRequest
        case .roundRobin: self = .roundRobin
        case .random: self = .random
        }
    }
}

/// Picks an endpoint index for one request, the way Envoy's load balancers do (ISTIO-SEMANTICS §3.2).
///
/// One instance per cluster per event loop, like Envoy's per-worker load balancers: it is not `Sendable` and takes
/// no locks. It knows only indexes and weights; the caller supplies live state (in-flight requests, ejections,
/// endpoints already tried by a retry) through closures so nothing is copied per pick. Every pick is O(n) in the
/// number of endpoints, which is fine for the endpoint counts a gateway's ServiceEntries declare.
public final class LoadBalancer {
    public let kind: LoadBalancerKind
    public let weights: [Int]
    /// The consistent-hash ring when the cluster hashes requests; picks without a hash key fall back to `kind`.
    public let ring: HashRing?
    /// Whether all weights are equal, which lets LEAST_REQUEST use plain power-of-two-choices (Envoy does the same).
    private let uniform: Bool
    /// Smooth weighted round-robin state (nginx algorithm): a running credit per endpoint.
    private var credit: [Int]
    private var random: LoadBalancerRandom
    /// Reused candidate buffer, so a pick allocates nothing once warmed up.
    private var scratch: [Int] = []

    public convenience init(kind: LoadBalancerKind, weights: [Int]) {
        self.init(kind: kind, weights: weights, random: LoadBalancerRandom())
    }

    /// With an explicit generator, so tests can seed it.
    public init(kind: LoadBalancerKind, weights: [Int], random: LoadBalancerRandom, ring: HashRing? = nil) {
        self.kind = kind
        self.ring = ring
        self.weights = weights.map { max(1, $0) }
        self.uniform = Set(self.weights).count <= 1
        self.credit = Array(repeating: 0, count: weights.count)
        self.random = random
    }

    /// Picks among the endpoints that are not `excluded`; nil when every endpoint is excluded.
    ///
    /// - Parameters:
    ///   - active: requests in flight to endpoint `i` on this loop (used by LEAST_REQUEST only).
    ///   - excluded: endpoints that must not be picked (ejected, or already tried by a retry).
    public func pick(active: (Int) -> Int, excluded: (Int) -> Bool) -> Int? {
        self.collect { !excluded($0) }
        return self.pick(among: self.scratch, active: active)
    }

    /// Picks avoiding `ejected` endpoints and, when possible, the ones a retry already `tried`.
    ///
    /// Mirrors Envoy's `previous_hosts` retry predicate: when every healthy endpoint was already tried the retry
    /// goes to any non-ejected endpoint rather than failing. Ejected endpoints are never picked (Istio disables
    /// panic mode, §3.4), so nil means "no healthy upstream".
    public func pick(active: (Int) -> Int, ejected: (Int) -> Bool, tried: (Int) -> Bool) -> Int? {
        self.collect { !ejected($0) && !tried($0) }
        if self.scratch.isEmpty { self.collect { !ejected($0) } }
        return self.pick(among: self.scratch, active: active)
    }

    /// Consistent-hash pick: the ring's owner of `hash`, skipping excluded endpoints clockwise. Without a hash key
    /// (or a ring) this is `pick(active:excluded:)`. Consistent hashing disables the retry "other hosts" predicate
    /// (§3.2), so a retry passes only ejected endpoints as `excluded` and may land on the same endpoint.
    public func pick(hash: UInt64?, active: (Int) -> Int, excluded: (Int) -> Bool) -> Int? {
        if let hash, let ring = self.ring { return ring.endpoint(for: hash, excluded: excluded) }
        return self.pick(active: active, excluded: excluded)
    }
}

extension LoadBalancer {
    private func collect(_ isCandidate: (Int) -> Bool) {
        self.scratch.removeAll(keepingCapacity: true)
        for i in self.weights.indices where isCandidate(i) { self.scratch.append(i) }
    }

    private func pick(among candidates: [Int], active: (Int) -> Int) -> Int? {
        guard let first = candidates.first else { return nil }
        if candidates.count == 1 { return first }
        switch self.kind {
        case .roundRobin: return self.pickRoundRobin(candidates)
        case .random: return self.pickWeightedRandom(candidates, weight: { Double(self.weights[$0]) })
        case .leastRequest: return self.pickLeastRequest(candidates, active: active)
        }
    }

    /// Smooth weighted round robin: every candidate earns its weight, the richest is picked and pays the total.
    /// With equal weights this is plain rotation; with weights it interleaves instead of bursting.
    private func pickRoundRobin(_ candidates: [Int]) -> Int {
        var total = 0
        var best = candidates[0]
        for i in candidates {
            self.credit[i] += self.weights[i]
            total += self.weights[i]
            if self.credit[i] > self.credit[best] { best = i }
        }
        self.credit[best] -= total
        return best
    }

    /// Envoy's LEAST_REQUEST: with equal weights, two random choices (with replacement) and the one with fewer
    /// active requests wins; with unequal weights, a weighted pick by `weight / (active + 1)` (active-request
    /// bias 1.0, Envoy's default).
    private func pickLeastRequest(_ candidates: [Int], active: (Int) -> Int) -> Int {
        if self.uniform {
            let a = candidates[Int.random(in: 0..<candidates.count, using: &self.random)]
            let b = candidates[Int.random(in: 0..<candidates.count, using: &self.random)]
            return active(b) < active(a) ? b : a
        }
        return self.pickWeightedRandom(candidates, weight: { Double(self.weights[$0]) / Double(active($0) + 1) })
    }

    /// Two passes over the candidates (sum, then scan) so nothing is allocated.
    private func pickWeightedRandom(_ candidates: [Int], weight: (Int) -> Double) -> Int {
        var total = 0.0
        for i in candidates { total += weight(i) }
        var point = Double.random(in: 0..<total, using: &self.random)
        for i in candidates {
            let w = weight(i)
            if point < w { return i }
            point -= w
        }
        return candidates[candidates.count - 1]
    }
}

@available(*, unavailable)
extension LoadBalancer: Sendable {}
