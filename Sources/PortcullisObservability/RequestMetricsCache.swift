import Atomics
import NIOConcurrencyHelpers
import Prometheus

/// The label values of one request that vary per request; everything about the source is fixed per gateway.
///
/// The hash is computed once at construction so the shard choice and the dictionary probe hash a single `Int`.
/// String fields hold final label values (`unknown` substituted), which are either config-derived or static.
struct RequestLabelKey: Hashable, Sendable {
    let destinationService: String
    let destinationServiceName: String
    let destinationServiceNamespace: String
    let destinationVersion: String
    let responseCode: Int
    let responseFlags: ResponseFlags
    let isGRPC: Bool
    /// -1 when there is no gRPC status.
    let grpcStatus: Int
    let precomputedHash: Int

    init(
        destinationService: String, destinationServiceName: String, destinationServiceNamespace: String,
        destinationVersion: String, responseCode: Int, responseFlags: ResponseFlags, isGRPC: Bool, grpcStatus: Int
    ) {
        self.destinationService = destinationService
        self.destinationServiceName = destinationServiceName
        self.destinationServiceNamespace = destinationServiceNamespace
        self.destinationVersion = destinationVersion
        self.responseCode = responseCode
        self.responseFlags = responseFlags
        self.isGRPC = isGRPC
        self.grpcStatus = grpcStatus
        var hasher = Hasher()
        hasher.combine(destinationService)
        hasher.combine(destinationServiceName)
        hasher.combine(destinationServiceNamespace)
        hasher.combine(destinationVersion)
        hasher.combine(responseCode)
        hasher.combine(responseFlags.rawValue)
        hasher.combine(isGRPC)
        hasher.combine(grpcStatus)
        self.precomputedHash = hasher.finalize()
    }

    /// Builds the key for a record. Codes outside 0...999 (an upstream can send anything) become 0 so the
    /// `response_code` label stays bounded.
    init(_ record: RequestRecord) {
        let unknown = MetricFamilies.unknown
        let code = (0...999).contains(record.responseCode) ? record.responseCode : 0
        let grpc = record.grpcStatus.map { (0...99).contains($0) ? $0 : 2 } ?? -1
        self.init(
            destinationService: Self.nonEmpty(record.destinationService) ?? unknown,
            destinationServiceName: Self.nonEmpty(record.destinationServiceName) ?? unknown,
            destinationServiceNamespace: Self.nonEmpty(record.destinationServiceNamespace) ?? unknown,
            destinationVersion: Self.nonEmpty(record.destinationVersion) ?? unknown,
            responseCode: code, responseFlags: record.responseFlags, isGRPC: record.isGRPC || grpc >= 0,
            grpcStatus: grpc)
    }

    /// The same response, with every destination label `unknown`: where requests go once the cap is reached.
    var overflowKey: RequestLabelKey {
        let unknown = MetricFamilies.unknown
        return RequestLabelKey(
            destinationService: unknown, destinationServiceName: unknown, destinationServiceNamespace: unknown,
            destinationVersion: unknown, responseCode: self.responseCode, responseFlags: self.responseFlags,
            isGRPC: self.isGRPC, grpcStatus: self.grpcStatus)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(self.precomputedHash)
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.precomputedHash == rhs.precomputedHash && lhs.responseCode == rhs.responseCode
            && lhs.responseFlags == rhs.responseFlags && lhs.isGRPC == rhs.isGRPC
            && lhs.grpcStatus == rhs.grpcStatus && lhs.destinationService == rhs.destinationService
            && lhs.destinationServiceName == rhs.destinationServiceName
            && lhs.destinationServiceNamespace == rhs.destinationServiceNamespace
            && lhs.destinationVersion == rhs.destinationVersion
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else {
            return nil
        }
        return value
    }
}

/// The Prometheus handles of one label set, created on first use and kept for the process lifetime.
final class RequestHandles: Sendable {
    let requests: Counter
    let duration: ValueHistogram
    let requestBytes: ValueHistogram
    let responseBytes: ValueHistogram

    init(requests: Counter, duration: ValueHistogram, requestBytes: ValueHistogram, responseBytes: ValueHistogram) {
        self.requests = requests
        self.duration = duration
        self.requestBytes = requestBytes
        self.responseBytes = responseBytes
    }
}

/// Label set to handles, so recording a request is one hash lookup plus atomic adds, never a registry lookup.
///
/// Sixteen lock-striped shards keep event loops from queueing on one lock when they record different label sets.
/// A cache miss builds the label array and asks the registry outside the shard lock; the registry returns the
/// existing metric for a label set, so two loops racing on the same miss end up sharing one handle.
/// The number of label sets is capped; beyond it, destination labels fold into `unknown` (HARDENING.md: bounded
/// memory under hostile load).
final class RequestMetricsCache: Sendable {
    private static let shardCount = 16
    private let shards: [NIOLockedValueBox<[RequestLabelKey: RequestHandles]>]
    private let labelSetCount = ManagedAtomic<Int>(0)
    private let maxLabelSets: Int
    private let makeHandles: @Sendable (RequestLabelKey) -> RequestHandles
    private let overflowCounter: Counter

    init(
        maxLabelSets: Int, overflowCounter: Counter,
        makeHandles: @escaping @Sendable (RequestLabelKey) -> RequestHandles
    ) {
        self.shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox([:]) }
        self.maxLabelSets = maxLabelSets
        self.overflowCounter = overflowCounter
        self.makeHandles = makeHandles
    }

    /// The handles for `key`, creating them on first use.
    func handles(for key: RequestLabelKey) -> RequestHandles {
        if let existing = self.lookup(key) {
            return existing
        }
        var key = key
        if self.labelSetCount.load(ordering: .relaxed) >= self.maxLabelSets {
            self.overflowCounter.increment()
            key = key.overflowKey
            if let existing = self.lookup(key) {
                return existing
            }
        }
        let created = self.makeHandles(key)
        let shard = self.shards[key.precomputedHash & (Self.shardCount - 1)]
        return shard.withLockedValue { table in
            if let raced = table[key] {
                return raced
            }
            table[key] = created
            self.labelSetCount.wrappingIncrement(ordering: .relaxed)
            return created
        }
    }

    /// How many label sets exist (for tests and the admin page).
    var count: Int {
        self.labelSetCount.load(ordering: .relaxed)
    }

    @inline(__always)
    private func lookup(_ key: RequestLabelKey) -> RequestHandles? {
        self.shards[key.precomputedHash & (Self.shardCount - 1)].withLockedValue { $0[key] }
    }
}
