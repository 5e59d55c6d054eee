import Dispatch
import NIOCore
import NIOPosix
import PortcullisUpstream
import Synchronization
import Testing

/// DNS resolution off the event loops with caching (ISTIO-SEMANTICS §4.1 `DNS`).
@Suite struct DNSCacheTests {
    /// A clock and resolver the test controls: time moves only when told, answers are scripted.
    final class Script: Sendable {
        private let state = Mutex<(now: NIODeadline, answer: Result<[String], DNSError>, calls: Int)>(
            (.uptimeNanoseconds(1_000_000_000), .success(["10.0.0.1"]), 0))

        var calls: Int { self.state.withLock { $0.calls } }
        func advance(_ amount: TimeAmount) { self.state.withLock { $0.now = $0.now + amount } }
        func answer(_ answer: Result<[String], DNSError>) { self.state.withLock { $0.answer = answer } }
        func now() -> NIODeadline { self.state.withLock { $0.now } }

        func resolve(_ host: String, _ port: Int) throws -> [SocketAddress] {
            let answer = self.state.withLock { state in
                state.calls += 1
                return state.answer
            }
            return try answer.get().map { try SocketAddress(ipAddress: $0, port: port) }
        }
    }

    static func withCache(
        _ script: Script?, _ body: (DNSCache, EventLoop) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let cache: DNSCache
        if let script {
            cache = DNSCache(
                threadPool: pool, refresh: .seconds(30), negativeTTL: .seconds(2), clock: { script.now() },
                resolver: { try script.resolve($0, $1) })
        } else {
            cache = DNSCache(threadPool: pool)
        }
        do {
            try await body(cache, group.next())
        } catch {
            try await pool.shutdownGracefully()
            try await group.shutdownGracefully()
            throw error
        }
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    static func ips(_ addresses: [SocketAddress]) -> [String] {
        addresses.compactMap(\.ipAddress)
    }

    @Test func ipLiteralsResolveWithoutALookup() async throws {
        let script = Script()
        try await Self.withCache(script) { cache, loop in
            let v4 = try await cache.resolve(host: "10.1.2.3", port: 8080, on: loop).get()
            #expect(v4 == [try SocketAddress(ipAddress: "10.1.2.3", port: 8080)])
            let v6 = try await cache.resolve(host: "[::1]", port: 443, on: loop).get()
            #expect(v6.first?.port == 443 && Self.ips(v6) == ["::1"])
            let bare = try await cache.resolve(host: "::1", port: 80, on: loop).get()
            #expect(Self.ips(bare) == ["::1"])
            #expect(script.calls == 0)
            #expect(cache.count == 0)
        }
    }

    @Test func localhostResolvesThroughTheSystemResolver() async throws {
        try await Self.withCache(nil) { cache, loop in
            let addresses = try await cache.resolve(host: "localhost", port: 9080, on: loop).get()
            #expect(!addresses.isEmpty)
            #expect(addresses.allSatisfy { $0.port == 9080 })
            #expect(Self.ips(addresses).contains { $0 == "127.0.0.1" || $0 == "::1" })
        }
    }

    @Test func numericAndMalformedNamesAreRefused() async throws {
        try await Self.withCache(nil) { cache, loop in
            for name in ["2130706433", "127.1", "bad host", "a..b", ""] {
                await #expect(throws: DNSError.self) {
                    _ = try await cache.resolve(host: name, port: 80, on: loop).get()
                }
            }
        }
    }

    @Test func answersAreCachedUntilRefreshThenServedStaleWhileRefreshing() async throws {
        let script = Script()
        try await Self.withCache(script) { cache, loop in
            let first = try await cache.resolve(host: "api.example.com", port: 80, on: loop).get()
            #expect(Self.ips(first) == ["10.0.0.1"])
            _ = try await cache.resolve(host: "API.example.com", port: 80, on: loop).get()
            #expect(script.calls == 1)
            script.answer(.success(["10.0.0.2"]))
            script.advance(.seconds(31))
            let stale = try await cache.resolve(host: "api.example.com", port: 80, on: loop).get()
            #expect(Self.ips(stale) == ["10.0.0.1"])
            // The pool has one thread and runs jobs in order: once a later miss is answered, the refresh is done.
            _ = try await cache.resolve(host: "barrier.example.com", port: 80, on: loop).get()
            let fresh = Self.ips(try await cache.resolve(host: "api.example.com", port: 80, on: loop).get())
            #expect(fresh == ["10.0.0.2"])
            #expect(script.calls == 3)
        }
    }

    @Test func failedRefreshKeepsTheLastGoodAnswer() async throws {
        let script = Script()
        try await Self.withCache(script) { cache, loop in
            _ = try await cache.resolve(host: "api.example.com", port: 80, on: loop).get()
            script.answer(.failure(DNSError(host: "api.example.com", reason: "SERVFAIL")))
            script.advance(.seconds(31))
            for _ in 0..<100 {
                let answer = try await cache.resolve(host: "api.example.com", port: 80, on: loop).get()
                #expect(Self.ips(answer) == ["10.0.0.1"])
            }
        }
    }

    @Test func failureWithoutAnswerIsCachedBriefly() async throws {
        let script = Script()
        script.answer(.failure(DNSError(host: "gone.example.com", reason: "NXDOMAIN")))
        try await Self.withCache(script) { cache, loop in
            for _ in 0..<3 {
                await #expect(throws: DNSError(host: "gone.example.com", reason: "NXDOMAIN")) {
                    _ = try await cache.resolve(host: "gone.example.com", port: 80, on: loop).get()
                }
            }
            #expect(script.calls == 1)
            script.answer(.success(["10.0.0.9"]))
            script.advance(.seconds(3))
            let answer = try await cache.resolve(host: "gone.example.com", port: 80, on: loop).get()
            #expect(Self.ips(answer) == ["10.0.0.9"])
        }
    }

    @Test func concurrentRequestsShareOneLookup() async throws {
        let gate = DispatchSemaphore(value: 0)
        let calls = Mutex(0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let cache = DNSCache(threadPool: pool, resolver: { _, port in
            calls.withLock { $0 += 1 }
            gate.wait()
            return [try SocketAddress(ipAddress: "10.0.0.7", port: port)]
        })
        let loop = group.next()
        let futures = (0..<5).map { _ in cache.resolve(host: "slow.example.com", port: 80, on: loop) }
        gate.signal()
        for future in futures {
            #expect(Self.ips(try await future.get()) == ["10.0.0.7"])
        }
        #expect(calls.withLock { $0 } == 1)
        try await pool.shutdownGracefully()
        try await group.shutdownGracefully()
    }
}
