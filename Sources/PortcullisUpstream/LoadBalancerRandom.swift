/// A small, fast, seedable generator (SplitMix64) for load-balancer picks.
///
/// Picks happen on every request, so the generator must be cheap and lock-free; each `LoadBalancer` (one per event
/// loop) owns its own. Seeding makes distribution tests reproducible. Not for anything security-relevant.
public struct LoadBalancerRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded from the system's random source.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.state = system.next()
    }

    /// A generator with a fixed seed, for tests.
    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
