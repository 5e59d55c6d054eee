import PortcullisModel

/// Where a request's consistent-hash key comes from (DestinationRule `loadBalancer.consistentHash`, §3.2).
///
/// The proxy extracts the key; a request without one (missing header, cookie or parameter) gets the cluster's
/// fallback pick, which is random, as in Envoy.
public enum HashKeySource: Sendable, Hashable {
    /// `httpHeaderName`, lower-cased.
    case header(name: String)
    /// `httpCookie`: with a `ttl` the proxy generates the cookie (Set-Cookie) when the request has none;
    /// `ttl` 0 = session cookie; without `ttl` a request with no cookie has no hash.
    case cookie(name: String, path: String?, ttl: Duration?)
    /// `useSourceIp`: the downstream address after XFF processing.
    case sourceIP
    /// `httpQueryParameterName`.
    case queryParameter(name: String)
}

/// A cluster's consistent-hash settings, after the §3.6 block merge (so subset port-level > subset > DR
/// port-level > DR top-level precedence holds automatically).
public struct HashPolicy: Sendable, Hashable {
    public let source: HashKeySource
    /// `ringHash.minimumRingSize` (or the deprecated top-level field); default 1024.
    public let minimumRingSize: Int

    public init(source: HashKeySource, minimumRingSize: Int = 1024) {
        self.source = source
        self.minimumRingSize = minimumRingSize
    }

    /// nil when the block is absent or names no key source.
    public init?(_ settings: ConsistentHash?) {
        guard let settings else { return nil }
        let ring = settings.minimumRingSize.flatMap { $0 > 0 ? $0 : nil } ?? 1024
        if let header = settings.httpHeaderName {
            self.init(source: .header(name: header.lowercased()), minimumRingSize: ring)
        } else if let cookie = settings.httpCookieName {
            let source = HashKeySource.cookie(
                name: cookie, path: settings.httpCookiePath, ttl: settings.httpCookieTTL)
            self.init(source: source, minimumRingSize: ring)
        } else if settings.useSourceIp {
            self.init(source: .sourceIP, minimumRingSize: ring)
        } else if let parameter = settings.httpQueryParameterName {
            self.init(source: .queryParameter(name: parameter), minimumRingSize: ring)
        } else {
            return nil
        }
    }
}

/// Envoy-style ring hash over a cluster's endpoints: each endpoint owns points on a 64-bit ring in proportion to
/// its weight, and a key goes to the first point at or after its hash.
///
/// Immutable and `Sendable`: built once per `Cluster` and shared by every event loop's `LoadBalancer`. Points are
/// derived from endpoint addresses, so an endpoint keeps its keys across config reloads and across gateway
/// replicas (the hash is FNV-1a, not Swift's per-process seeded `Hasher`).
public struct HashRing: Sendable {
    /// Upper bound on points, so a hostile `minimumRingSize` cannot exhaust memory (16 bytes a point).
    public static let maximumSize = 1 << 17

    private let hashes: [UInt64]
    private let owners: [Int]

    public init(endpoints: [Endpoint], minimumRingSize: Int) {
        let totalWeight = endpoints.reduce(0) { $0 + $1.weight }
        let size = min(max(minimumRingSize, endpoints.count), Self.maximumSize)
        var points: [(hash: UInt64, owner: Int)] = []
        points.reserveCapacity(size + endpoints.count)
        for (index, endpoint) in endpoints.enumerated() {
            let share = Double(size) * Double(endpoint.weight) / Double(max(1, totalWeight))
            // Point i hashes `"<endpoint>_<i>"`; the prefix is hashed once and the digits fed without a String.
            let prefix = Self.fnv(Self.offsetBasis, "\(endpoint.description)_".utf8)
            for replica in 0..<max(1, Int(share.rounded())) {
                points.append((Self.mix(Self.fnv(prefix, Self.decimalDigits(replica))), index))
            }
        }
        points.sort { $0.hash == $1.hash ? $0.owner < $1.owner : $0.hash < $1.hash }
        self.hashes = points.map(\.hash)
        self.owners = points.map(\.owner)
    }

    public var count: Int { self.hashes.count }

    /// The endpoint owning `hash`, walking clockwise past `excluded` endpoints; nil when all are excluded.
    public func endpoint(for hash: UInt64, excluded: (Int) -> Bool) -> Int? {
        guard !self.hashes.isEmpty else { return nil }
        var low = 0
        var high = self.hashes.count
        while low < high {
            let mid = (low + high) / 2
            if self.hashes[mid] < hash { low = mid + 1 } else { high = mid }
        }
        for step in 0..<self.owners.count {
            let owner = self.owners[(low + step) % self.owners.count]
            if !excluded(owner) { return owner }
        }
        return nil
    }

    /// Stable 64-bit hash of a key (FNV-1a with a final avalanche mix so nearby keys spread over the ring).
    public static func hash(_ key: String) -> UInt64 {
        Self.mix(Self.fnv(Self.offsetBasis, key.utf8))
    }
}

extension HashRing {
    private static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325

    private static func fnv(_ state: UInt64, _ bytes: some Sequence<UInt8>) -> UInt64 {
        var h = state
        for byte in bytes {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }

    /// The murmur3 64-bit finalizer.
    private static func mix(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }

    /// ASCII digits of a non-negative number, most significant first.
    private static func decimalDigits(_ value: Int) -> [UInt8] {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(0x30 + rest % 10))
            rest /= 10
        } while rest > 0
        return digits.reversed()
    }
}
