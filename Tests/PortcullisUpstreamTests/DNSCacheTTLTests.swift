import NIOCore
import NIOPosix
import PortcullisTestDNS
import PortcullisUpstream
import Synchronization
import Testing

/// `DNSCache` over the stub resolver and a real DNS server: TTLs, clamps, last-good answers. Time comes from an
/// injected clock; only the server's network round trips are waited for, by polling with a deadline.
@Suite struct DNSCacheTTLTests {
    final class Clock: Sendable {
        private let value = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000))
        func now() -> NIODeadline { self.value.withLock { $0 } }
        func advance(_ amount: Duration) { self.value.withLock { $0 = $0 + TimeAmount(amount) } }
    }

    struct Setup {
        let server: DNSTestServer
        let cache: DNSCache
        let clock: Clock
        let loop: EventLoop

        func ips(_ host: String = "svc.example.test") async throws -> [String] {
            try await self.cache.resolve(host: host, port: 80, on: self.loop).get().compactMap(\.ipAddress)
        }

        func queries(_ host: String = "svc.example.test") -> Int {
            self.server.udpQueries.filter { $0 == "\(host)/1" }.count
        }

        /// The server saw `count` queries and the cache has settled the last one (its outcome is timed by the
        /// injected clock when it settles, so the clock must not move before that).
        func settled(after count: Int, _ host: String = "svc.example.test") -> Bool {
            self.queries(host) == count && !self.cache.isLookingUp(host: host, port: 80)
        }

        /// Polls (real time, bounded) until `condition` holds; the clock does not move meanwhile.
        func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if try await condition() { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            Issue.record("timed out waiting for \(what)")
        }

        func set(_ ip: String, ttl: UInt32, host: String = "svc.example.test") {
            self.server.set(host, .init(records: [.init(host, ttl: ttl, .a(ip))]))
        }
    }

    static func with(policy: DNSTTLPolicy = DNSTTLPolicy(), _ body: (Setup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await DNSTestServer.start(group: group)
        let config = DNSResolverConfiguration(
            nameservers: [DNSResolverConfiguration.serverAddress(server.address)!], timeout: .milliseconds(300),
            attempts: 1)
        let resolver = DNSStubResolver(configuration: config, group: group)
        let clock = Clock()
        let cache = DNSCache(policy: policy, clock: { clock.now() }, resolver: { resolver.lookup(host: $0, port: $1) })
        let setup = Setup(server: server, cache: cache, clock: clock, loop: group.next())
        do {
            try await body(setup)
        } catch {
            await server.stop()
            try await group.shutdownGracefully()
            throw error
        }
        await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func answerIsCachedForItsTTLThenRefreshed() async throws {
        try await Self.with { s in
            s.set("10.0.0.1", ttl: 60)
            #expect(try await s.ips() == ["10.0.0.1"])
            s.set("10.0.0.2", ttl: 60)
            s.clock.advance(.seconds(59))
            #expect(try await s.ips() == ["10.0.0.1"])
            #expect(s.queries() == 1)
            s.clock.advance(.seconds(2))
            // Expired: served stale at once while one refresh runs, then the new answer.
            #expect(try await s.ips() == ["10.0.0.1"])
            try await s.eventually("the refreshed answer") { try await s.ips() == ["10.0.0.2"] }
            #expect(s.queries() == 2)
        }
    }

    @Test func shortTTLIsRaisedToTheFloor() async throws {
        try await Self.with { s in
            s.set("10.0.1.1", ttl: 1)
            #expect(try await s.ips() == ["10.0.1.1"])
            s.set("10.0.1.2", ttl: 1)
            s.clock.advance(.seconds(4))
            #expect(try await s.ips() == ["10.0.1.1"])
            #expect(s.queries() == 1)
            s.clock.advance(.seconds(2))
            _ = try await s.ips()
            try await s.eventually("a refresh after the 5 s floor") { try await s.ips() == ["10.0.1.2"] }
        }
    }

    @Test func longTTLIsCutToTheCeiling() async throws {
        try await Self.with(policy: DNSTTLPolicy(floor: .seconds(5), ceiling: .seconds(120))) { s in
            s.set("10.0.2.1", ttl: 86_400)
            #expect(try await s.ips() == ["10.0.2.1"])
            s.set("10.0.2.2", ttl: 86_400)
            s.clock.advance(.seconds(119))
            #expect(try await s.ips() == ["10.0.2.1"])
            #expect(s.queries() == 1)
            s.clock.advance(.seconds(2))
            _ = try await s.ips()
            try await s.eventually("a refresh after the ceiling") { try await s.ips() == ["10.0.2.2"] }
        }
    }

    @Test func serverFailureKeepsTheLastGoodAnswer() async throws {
        try await Self.with { s in
            s.set("10.0.3.1", ttl: 10)
            #expect(try await s.ips() == ["10.0.3.1"])
            s.server.set("svc.example.test", .init(records: [], rcode: 2))  // SERVFAIL from now on
            s.clock.advance(.seconds(11))
            #expect(try await s.ips() == ["10.0.3.1"])
            try await s.eventually("the failed refresh") { s.settled(after: 2) }
            // The failure is retried after `failureRetry` (2 s), never dropping the answer meanwhile.
            s.clock.advance(.seconds(1))
            #expect(try await s.ips() == ["10.0.3.1"])
            s.clock.advance(.seconds(2))
            #expect(try await s.ips() == ["10.0.3.1"])
            try await s.eventually("the second failed refresh") { s.settled(after: 3) }
            #expect(try await s.ips() == ["10.0.3.1"])
        }
    }

    @Test func silentServerKeepsTheLastGoodAnswer() async throws {
        try await Self.with { s in
            s.set("10.0.4.1", ttl: 10)
            #expect(try await s.ips() == ["10.0.4.1"])
            var silent = DNSTestServer.Script()
            silent.silent = true
            s.server.set("svc.example.test", silent)
            s.clock.advance(.seconds(11))
            for _ in 0..<20 { #expect(try await s.ips() == ["10.0.4.1"]) }
            try await s.eventually("the timed-out refresh") { s.queries() == 2 }
        }
    }

    @Test func nxdomainRemovesTheAnswer() async throws {
        try await Self.with { s in
            s.set("10.0.5.1", ttl: 10, host: "moved.example.test")
            #expect(try await s.ips("moved.example.test") == ["10.0.5.1"])
            s.server.setDefault(nil)
            s.server.set("moved.example.test", .init(records: [], rcode: 3))
            s.clock.advance(.seconds(11))
            _ = try await s.ips("moved.example.test")
            try await s.eventually("the negative answer") {
                (try? await s.ips("moved.example.test")) == nil
            }
        }
    }
}
