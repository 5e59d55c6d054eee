import NIOCore
import NIOPosix
import Synchronization

/// Resolves upstream DNS names off the event loops and caches the answers (ISTIO-SEMANTICS §4.1 `DNS`).
///
/// - Lookups run on a `NIOThreadPool` (blocking `getaddrinfo`); callers on an event loop only wait on a future.
/// - `getaddrinfo` reports no TTL, so an answer is refreshed after a fixed `refresh` (clamped to 5 s...300 s).
///   A stale answer is still served at once while one background lookup refreshes it, so a refresh never adds
///   latency to requests.
/// - A failed refresh keeps the last good answer (Envoy STRICT_DNS keeps its hosts on resolution failure) and is
///   retried after `negativeTTL`. A name that never resolved fails its waiters and caches the failure for
///   `negativeTTL`, so a dead name cannot turn every request into a thread-pool job.
/// - Concurrent requests for the same name share one lookup. At most `maxEntries` names are cached.
///
/// `Sendable`: a `Mutex` guards the table; it is held only for dictionary updates, never across a lookup.
public final class DNSCache: Sendable {
    /// A blocking resolver, injectable for tests.
    public typealias Resolver = @Sendable (_ host: String, _ port: Int) throws -> [SocketAddress]

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
    private let threadPool: NIOThreadPool
    private let refresh: TimeAmount
    private let negativeTTL: TimeAmount
    private let maxEntries: Int
    private let clock: @Sendable () -> NIODeadline
    private let resolver: Resolver

    public convenience init(threadPool: NIOThreadPool, refresh: Duration = .seconds(30)) {
        self.init(threadPool: threadPool, refresh: refresh, resolver: DNSSystemResolver.lookup)
    }

    /// Full control, for tests and tuning: a fake `resolver` and `clock` make caching observable without sleeping.
    public init(
        threadPool: NIOThreadPool, refresh: Duration = .seconds(30), negativeTTL: Duration = .seconds(2),
        maxEntries: Int = 4096, clock: @escaping @Sendable () -> NIODeadline = { .now() },
        resolver: @escaping Resolver
    ) {
        self.threadPool = threadPool
        self.refresh = TimeAmount(min(max(refresh, .seconds(5)), .seconds(300)))
        self.negativeTTL = TimeAmount(max(negativeTTL, .milliseconds(1)))
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
        let resolver = self.resolver
        self.threadPool.submit { state in
            let result: Answer
            if case .active = state {
                do {
                    let addresses = try resolver(key.host, key.port)
                    result = addresses.isEmpty ? .failure(DNSError(host: key.host, reason: "empty answer"))
                        : .success(addresses)
                } catch let error as DNSError {
                    result = .failure(error)
                } catch {
                    result = .failure(DNSError(host: key.host, reason: "\(error)"))
                }
            } else {
                result = .failure(DNSError(host: key.host, reason: "resolver thread pool is shut down"))
            }
            self.complete(key, result)
        }
    }

    private typealias Answer = Result<[SocketAddress], DNSError>
    private typealias Waiter = EventLoopPromise<[SocketAddress]>

    private func complete(_ key: Key, _ result: Answer) {
        let now = self.clock()
        let (waiters, outcome) = self.table.withLock { table -> ([Waiter], Answer) in
            var entry = table[key] ?? Entry(expires: now)
            let waiters = entry.waiters
            entry.waiters = []
            entry.inFlight = false
            let outcome: Answer
            switch result {
            case .success(let addresses):
                entry.addresses = addresses
                entry.failure = nil
                entry.expires = now + self.refresh
                outcome = .success(addresses)
            case .failure(let error):
                entry.expires = now + self.negativeTTL
                if let last = entry.addresses {
                    outcome = .success(last)
                } else {
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
