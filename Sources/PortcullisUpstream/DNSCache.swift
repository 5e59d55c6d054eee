import NIOCore
import NIOPosix
import Synchronization

/// How long answers are kept (ISTIO-SEMANTICS §4.1 `DNS`; issue 5 "DNS").
///
/// Istio sets Envoy's `respect_dns_ttl: true`, so a DNS cluster is re-resolved when the answer's TTL runs out.
/// Envoy never refreshes faster than `dns_min_refresh_rate` (5 s, also the default `dns_refresh_rate`): that is
/// the floor here, and a TTL of 0 means the floor. The ceiling (300 s) is Portcullis's own: a very long TTL would
/// otherwise pin traffic to an address for hours after the owner moved it.
public struct DNSTTLPolicy: Sendable, Hashable {
    public var floor: Duration
    public var ceiling: Duration
    /// Retry delay after a resolver failure (timeout, SERVFAIL); the last good answer is served meanwhile.
    public var failureRetry: Duration
    /// Cap of the negative-caching time of NXDOMAIN/NODATA (RFC 2308 SOA minimum, or `negativeDefault` without SOA).
    public var negativeCeiling: Duration
    public var negativeDefault: Duration

    public init(
        floor: Duration = .seconds(5), ceiling: Duration = .seconds(300), failureRetry: Duration = .seconds(2),
        negativeCeiling: Duration = .seconds(30), negativeDefault: Duration = .seconds(5)
    ) {
        self.floor = max(floor, .milliseconds(1))
        self.ceiling = max(ceiling, self.floor)
        self.failureRetry = max(failureRetry, .milliseconds(1))
        self.negativeCeiling = max(negativeCeiling, .milliseconds(1))
        self.negativeDefault = negativeDefault
    }

    /// `ttl` clamped to `floor...ceiling`.
    public func positive(_ ttl: Duration) -> Duration { min(max(ttl, self.floor), self.ceiling) }

    /// The negative-caching time for an answer that came with `ttl` (nil: no SOA).
    public func negative(_ ttl: Duration?) -> Duration {
        min(max(ttl ?? self.negativeDefault, .seconds(1)), self.negativeCeiling)
    }
}

/// Resolves upstream DNS names without blocking an event loop and caches the answers for their TTL
/// (ISTIO-SEMANTICS §4.1 `DNS`).
///
/// - The resolver is asynchronous: normally `DNSStubResolver` (NIO UDP/TCP, reports TTLs); `getaddrinfo` on a
///   thread pool only when resolv.conf names no nameserver (then answers live for a fixed time).
/// - An answer is kept for its TTL clamped by `DNSTTLPolicy`. An expired answer is still served at once while one
///   background lookup refreshes it, so a refresh never adds latency to requests.
/// - A failed lookup (timeouts, SERVFAIL from every server) keeps the last good answer (Envoy keeps a DNS
///   cluster's hosts on resolution failure) and is retried after `failureRetry`. An authoritative NXDOMAIN or
///   NODATA replaces it: the name has no addresses any more (Envoy empties the host set on an empty answer); it is
///   cached for the SOA negative TTL, capped. A name that never resolved fails its waiters, and the failure is
///   cached too, so a dead name cannot turn every request into a query.
/// - Concurrent requests for the same name share one lookup. At most `maxEntries` names are cached.
///
/// `Sendable`: a `Mutex` guards the table; it is held only for dictionary updates, never across a lookup.
public final class DNSCache: Sendable {
    /// An asynchronous resolver (`DNSStubResolver.lookup`, or a fake in tests).
    public typealias Resolver = @Sendable (_ host: String, _ port: Int) -> EventLoopFuture<DNSLookupResult>
    /// A blocking resolver, run on a thread pool (`getaddrinfo`, or a fake in tests).
    public typealias BlockingResolver = @Sendable (_ host: String, _ port: Int) throws -> [SocketAddress]

    private struct Key: Hashable {
        let host: String
        let port: Int
    }

    private struct Entry {
        /// The last good answer.
        var addresses: [SocketAddress]?
        /// The failure to report while no answer exists.
        var failure: DNSError?
        /// When the entry needs a new lookup.
        var expires: NIODeadline
        var inFlight: Bool = false
        var waiters: [EventLoopPromise<[SocketAddress]>] = []
    }

    private let table = Mutex<[Key: Entry]>([:])
    public let policy: DNSTTLPolicy
    private let maxEntries: Int
    private let clock: @Sendable () -> NIODeadline
    private let resolver: Resolver

    /// The stub resolver, or `getaddrinfo` on `threadPool` when `resolver` has no nameservers.
    public convenience init(
        resolver stub: DNSStubResolver, threadPool: NIOThreadPool, policy: DNSTTLPolicy = DNSTTLPolicy()
    ) {
        if stub.configuration.nameservers.isEmpty {
            self.init(
                threadPool: threadPool, refresh: .seconds(30), policy: policy, group: stub.group,
                resolver: DNSSystemResolver.lookup)
        } else {
            self.init(policy: policy, resolver: { stub.lookup(host: $0, port: $1) })
        }
    }

    /// `getaddrinfo` on `threadPool`, answers kept for `refresh`.
    public convenience init(threadPool: NIOThreadPool, refresh: Duration = .seconds(30)) {
        self.init(threadPool: threadPool, refresh: refresh, resolver: DNSSystemResolver.lookup)
    }

    /// A blocking `resolver` on `threadPool` (which reports no TTL: answers are kept for `refresh`, clamped by
    /// `policy`); `negativeTTL` is the retry delay after a failure. Fake `resolver` and `clock` make caching
    /// observable in tests without sleeping.
    public convenience init(
        threadPool: NIOThreadPool, refresh: Duration = .seconds(30), negativeTTL: Duration = .seconds(2),
        policy: DNSTTLPolicy = DNSTTLPolicy(), maxEntries: Int = 4096,
        clock: @escaping @Sendable () -> NIODeadline = { .now() },
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, resolver: @escaping BlockingResolver
    ) {
        var policy = policy
        policy.failureRetry = max(negativeTTL, .milliseconds(1))
        policy.negativeDefault = policy.failureRetry
        // One loop for every completion, so answers are settled in the order the pool finished them.
        let loop = group.next()
        self.init(policy: policy, maxEntries: maxEntries, clock: clock) { host, port in
            threadPool.runIfActive(eventLoop: loop) {
                let addresses = try resolver(host, port)
                if addresses.isEmpty { throw DNSError(host: host, reason: "empty answer") }
                return DNSLookupResult.addresses(addresses, ttl: refresh)
            }
        }
    }

    /// Full control: an asynchronous `resolver`, the TTL `policy`, and a `clock` for tests.
    public init(
        policy: DNSTTLPolicy = DNSTTLPolicy(), maxEntries: Int = 4096,
        clock: @escaping @Sendable () -> NIODeadline = { .now() }, resolver: @escaping Resolver
    ) {
        self.policy = policy
        self.maxEntries = max(1, maxEntries)
        self.clock = clock
        self.resolver = resolver
    }

    /// The addresses of `host` with `port`, completed on `eventLoop`.
    ///
    /// IP literals (`10.0.0.1`, `[::1]`) and `unix:///path` resolve immediately without a thread hop; so does a
    /// cached answer, fresh or stale.
    public func resolve(host: String, port: Int, on eventLoop: EventLoop) -> EventLoopFuture<[SocketAddress]> {
        if let literal = DNSHostSyntax.literal(host, port: port) {
            return eventLoop.makeSucceededFuture([literal])
        }
        let key = Key(host: host.lowercased(), port: port)
        let now = self.clock()
        let (answer, startLookup) = self.table.withLock { table in
            self.admit(key, now: now, into: &table, eventLoop: eventLoop)
        }
        if startLookup { self.lookup(key) }
        return answer
    }

    /// Number of cached names (for tests and the admin page).
    public var count: Int { self.table.withLock { $0.count } }

    /// Whether a lookup of `host` is running (tests wait for it to settle before moving their clock).
    public func isLookingUp(host: String, port: Int) -> Bool {
        self.table.withLock { $0[Key(host: host.lowercased(), port: port)]?.inFlight ?? false }
    }
}

extension DNSCache {
    /// Decides, under the lock, how to answer and whether a lookup must start.
    private func admit(
        _ key: Key, now: NIODeadline, into table: inout [Key: Entry], eventLoop: EventLoop
    ) -> (EventLoopFuture<[SocketAddress]>, Bool) {
        if table[key] == nil { self.makeRoom(in: &table, now: now) }
        var entry = table[key] ?? Entry(expires: now)
        defer { table[key] = entry }
        let expired = now >= entry.expires
        if let addresses = entry.addresses {
            let start = expired && !entry.inFlight
            if start { entry.inFlight = true }
            return (eventLoop.makeSucceededFuture(addresses), start)
        }
        if let failure = entry.failure, !expired, !entry.inFlight {
            return (eventLoop.makeFailedFuture(failure), false)
        }
        let promise = eventLoop.makePromise(of: [SocketAddress].self)
        entry.waiters.append(promise)
        let start = !entry.inFlight
        entry.inFlight = true
        return (promise.futureResult, start)
    }

    /// Drops expired idle entries, then any idle entry, until a new one fits.
    private func makeRoom(in table: inout [Key: Entry], now: NIODeadline) {
        guard table.count >= self.maxEntries else { return }
        for (key, entry) in table where !entry.inFlight && now >= entry.expires {
            table[key] = nil
        }
        while table.count >= self.maxEntries, let victim = table.first(where: { !$0.value.inFlight })?.key {
            table[victim] = nil
        }
    }

    private func lookup(_ key: Key) {
        self.resolver(key.host, key.port).whenComplete { result in
            switch result {
            case .success(let answer):
                self.complete(key, answer)
            case .failure(let error):
                self.complete(key, error as? DNSError ?? DNSError(host: key.host, reason: "\(error)"))
            }
        }
    }

    private typealias Answer = Result<[SocketAddress], DNSError>
    private typealias Waiter = EventLoopPromise<[SocketAddress]>

    private func complete(_ key: Key, _ answer: DNSLookupResult) {
        switch answer {
        case .addresses(let addresses, let ttl) where !addresses.isEmpty:
            self.settle(key, .success(addresses), keepFor: self.policy.positive(ttl), keepLastGood: false)
        case .addresses:
            self.settle(
                key, .failure(DNSError(host: key.host, reason: "empty answer")),
                keepFor: self.policy.negative(nil), keepLastGood: false)
        case .negative(let reason, let ttl):
            self.settle(
                key, .failure(DNSError(host: key.host, reason: reason)), keepFor: self.policy.negative(ttl),
                keepLastGood: false)
        }
    }

    private func complete(_ key: Key, _ error: DNSError) {
        self.settle(key, .failure(error), keepFor: self.policy.failureRetry, keepLastGood: true)
    }

    private func settle(_ key: Key, _ result: Answer, keepFor: Duration, keepLastGood: Bool) {
        let now = self.clock()
        let (waiters, outcome) = self.table.withLock { table -> ([Waiter], Answer) in
            var entry = table[key] ?? Entry(expires: now)
            let waiters = entry.waiters
            entry.waiters = []
            entry.inFlight = false
            entry.expires = now + TimeAmount(keepFor)
            let outcome: Answer
            switch result {
            case .success(let addresses):
                entry.addresses = addresses
                entry.failure = nil
                outcome = .success(addresses)
            case .failure(let error):
                if keepLastGood, let last = entry.addresses {
                    outcome = .success(last)
                } else {
                    entry.addresses = nil
                    entry.failure = error
                    outcome = .failure(error)
                }
            }
            table[key] = entry
            return (waiters, outcome)
        }
        for waiter in waiters {
            waiter.completeWith(outcome.mapError { $0 as Error })
        }
    }
}
