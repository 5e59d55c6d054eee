import Foundation
import NIOPosix
import PortcullisTestDNS
import Testing

/// `resolution: DNS` and `DNS_ROUND_ROBIN` ServiceEntries through the real binary and a real DNS server
/// (`--dns-server`), with two "external" backends on 127.0.0.2 and 127.0.0.3 that share one port.
@Suite(.serialized)
struct DNSResolutionIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let dns: DNSTestServer
        let httpPort: Int
        let first: TestBackend
        let second: TestBackend

        func get(_ host: String) throws -> CurlResult {
            try Curl.get("http://127.0.0.1:\(self.httpPort)/", ["-H", "Host: \(host)"])
        }

        /// Backend names answering `count` requests for `host`.
        func backends(_ host: String, count: Int) throws -> [String] {
            try (0..<count).map { _ in try self.get(host).header("x-backend") ?? "-" }
        }

        func answer(_ host: String, _ ips: [String], ttl: UInt32) {
            self.dns.set(host, .init(records: ips.map { .init(host, ttl: ttl, .a($0)) }))
        }

        func stop() async {
            _ = self.gateway.stop()
            await self.dns.stop()
            await self.first.stop()
            await self.second.stop()
        }
    }

    static func serviceEntry(_ name: String, host: String, resolution: String, port: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(host)]
          location: MESH_EXTERNAL
          resolution: \(resolution)
          ports: [{number: 80, name: http, protocol: HTTP, targetPort: \(port)}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(host)]
          gateways: [egress]
          http: [{route: [{destination: {host: \(host), port: {number: 80}}}]}]
        """
    }

    private func start() async throws -> Setup {
        let group = MultiThreadedEventLoopGroup.singleton
        let dns = try await DNSTestServer.start(group: group)
        var first: TestBackend?
        var second: TestBackend?
        do {
            // Same port on two loopback addresses: only DNS tells the backends apart.
            for _ in 0..<10 where second == nil {
                let candidate = try await TestBackend.start(name: "first", host: "127.0.0.2")
                if let other = try? await TestBackend.start(name: "second", host: "127.0.0.3", port: candidate.port) {
                    first = candidate
                    second = other
                } else {
                    await candidate.stop()
                }
            }
            guard let first, let second else { throw TestFailure("cannot bind 127.0.0.2/127.0.0.3 on one port") }
            let httpPort = try FreePort.allocate()
            let hosts = ["moving.example.test", "spread.example.test", "logical.example.test", "mirrored.example.test"]
            let gateway = try GatewayProcess(
                files: [
                    "gateway.yaml": """
                        apiVersion: networking.istio.io/v1
                        kind: Gateway
                        metadata: {name: egress, namespace: default}
                        spec:
                          servers: [{port: {number: \(httpPort), name: http, protocol: HTTP}, hosts: \(hosts)}]
                        """,
                    "moving.yaml": Self.serviceEntry(
                        "moving", host: hosts[0], resolution: "DNS", port: first.port),
                    "spread.yaml": Self.serviceEntry(
                        "spread", host: hosts[1], resolution: "DNS", port: first.port),
                    "logical.yaml": Self.serviceEntry(
                        "logical", host: hosts[2], resolution: "DNS_ROUND_ROBIN", port: first.port),
                    "mirrored.yaml": """
                        apiVersion: networking.istio.io/v1
                        kind: VirtualService
                        metadata: {name: mirrored, namespace: default}
                        spec:
                          hosts: [mirrored.example.test]
                          gateways: [egress]
                          http:
                          - route: [{destination: {host: logical.example.test, port: {number: 80}}}]
                            mirror: {host: spread.example.test, port: {number: 80}}
                        """,
                ],
                extraArguments: ["--dns-server", dns.address])
            let setup = Setup(gateway: gateway, dns: dns, httpPort: httpPort, first: first, second: second)
            do {
                try await gateway.waitUntilReady()
            } catch {
                await setup.stop()
                throw error
            }
            return setup
        } catch {
            await dns.stop()
            await first?.stop()
            await second?.stop()
            throw error
        }
    }

    /// Polls `request` (bounded) until `done` holds; returns the last result.
    static func eventually<R>(
        within limit: Duration = .seconds(20), _ request: () throws -> R, until done: (R) -> Bool
    ) async throws -> R {
        let deadline = ContinuousClock.now + limit
        var result = try request()
        while !done(result), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            result = try request()
        }
        return result
    }

    @Test func trafficMovesWhenTheAnswerChangesAfterItsTTL() async throws {
        let setup = try await self.start()
        setup.answer("moving.example.test", ["127.0.0.2"], ttl: 1)
        let before = try setup.get("moving.example.test")
        #expect(before.status == 200, "\(before)")
        #expect(before.header("x-backend") == "first")
        let resolvedAt = ContinuousClock.now
        setup.answer("moving.example.test", ["127.0.0.3"], ttl: 1)
        // Still cached: a TTL of 1 s is raised to the 5 s floor.
        let cached = try setup.get("moving.example.test")
        let cachedElapsed = ContinuousClock.now - resolvedAt
        if cachedElapsed < .seconds(4) { #expect(cached.header("x-backend") == "first", "\(cached)") }
        let after = try await Self.eventually({ try setup.get("moving.example.test") }, until: {
            $0.header("x-backend") == "second"
        })
        #expect(after.header("x-backend") == "second", "\(after)")
        #expect(ContinuousClock.now - resolvedAt >= .seconds(4), "moved before the TTL floor")
        // Once moved, it stays moved (the old address's idle connection is not reused).
        #expect(try setup.backends("moving.example.test", count: 4) == Array(repeating: "second", count: 4))
        #expect(setup.dns.udpQueries.filter { $0 == "moving.example.test/1" }.count >= 2)
        let secondPort = setup.second.port
        await setup.stop()
        let log = (try? String(contentsOfFile: setup.gateway.accessLogPath, encoding: .utf8)) ?? ""
        // The access log names the address actually used, not the name.
        #expect(log.contains("127.0.0.3:\(secondPort)"), "\(log)")
    }

    @Test func dnsSpreadsLoadOverEveryAddress() async throws {
        let setup = try await self.start()
        setup.answer("spread.example.test", ["127.0.0.2", "127.0.0.3"], ttl: 300)
        let seen = try setup.backends("spread.example.test", count: 10)
        #expect(Set(seen) == ["first", "second"], "\(seen)")
        #expect(seen.filter { $0 == "first" }.count >= 3, "\(seen)")
        #expect(seen.filter { $0 == "second" }.count >= 3, "\(seen)")
        await setup.stop()
    }

    @Test func dnsRoundRobinUsesTheFirstAddress() async throws {
        let setup = try await self.start()
        setup.answer("logical.example.test", ["127.0.0.2", "127.0.0.3"], ttl: 300)
        let seen = try setup.backends("logical.example.test", count: 8)
        #expect(seen == Array(repeating: "first", count: 8), "\(seen)")
        await setup.stop()
    }

    @Test func mirrorsToADNSClusterAreResolvedToo() async throws {
        let setup = try await self.start()
        setup.answer("logical.example.test", ["127.0.0.2"], ttl: 300)
        setup.answer("spread.example.test", ["127.0.0.3"], ttl: 300)
        let result = try Curl.get("http://127.0.0.1:\(setup.httpPort)/mirror-me", ["-H", "Host: mirrored.example.test"])
        #expect(result.status == 200, "\(result)")
        #expect(result.header("x-backend") == "first")
        let copy = try await Self.eventually({ setup.second.seen }, until: { $0.contains { $0.uri == "/mirror-me" } })
        #expect(copy.contains { $0.uri == "/mirror-me" }, "the mirror never reached the DNS-resolved cluster")
        await setup.stop()
    }

    @Test func unresolvableNameIsAConnectFailure() async throws {
        let setup = try await self.start()
        // No answer scripted: NXDOMAIN.
        let result = try setup.get("moving.example.test")
        #expect(result.status == 503, "\(result)")
        await setup.stop()
    }
}
