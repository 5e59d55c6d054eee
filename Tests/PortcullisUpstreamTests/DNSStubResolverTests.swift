import NIOCore
import NIOPosix
import PortcullisTestDNS
import PortcullisUpstream
import Testing

/// The stub resolver against a real UDP/TCP DNS server on 127.0.0.1 (port 0).
@Suite struct DNSStubResolverTests {
    static func withServers(
        count: Int = 1, _ body: ([DNSTestServer], any EventLoopGroup) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var servers: [DNSTestServer] = []
        do {
            for _ in 0..<count { servers.append(try await DNSTestServer.start(group: group)) }
            try await body(servers, group)
        } catch {
            for server in servers { await server.stop() }
            try await group.shutdownGracefully()
            throw error
        }
        for server in servers { await server.stop() }
        try await group.shutdownGracefully()
    }

    static func resolver(
        _ servers: [DNSTestServer], group: any EventLoopGroup, hosts: String = "", search: [String] = []
    ) -> DNSStubResolver {
        let addresses = servers.map { DNSResolverConfiguration.serverAddress($0.address)! }
        let config = DNSResolverConfiguration(
            nameservers: addresses, search: search, ndots: 1, timeout: .milliseconds(300), attempts: 1)
        return DNSStubResolver(configuration: config, hosts: DNSHostsFile.parse(hosts), group: group)
    }

    static func ips(_ result: DNSLookupResult) -> [String] {
        guard case .addresses(let addresses, _) = result else { return [] }
        return addresses.compactMap(\.ipAddress)
    }

    static func ttl(_ result: DNSLookupResult) -> Duration? {
        guard case .addresses(_, let ttl) = result else { return nil }
        return ttl
    }

    @Test func addressesComeWithTheirTTL() async throws {
        try await Self.withServers { servers, group in
            servers[0].set("api.example.test", .init(records: [
                .init("api.example.test", ttl: 42, .a("10.1.0.1")), .init("api.example.test", ttl: 40, .a("10.1.0.2")),
                .init("api.example.test", ttl: 10, .aaaa("2001:db8::1")),
            ]))
            let result = try await Self.resolver(servers, group: group).lookup(host: "API.example.test", port: 443).get()
            #expect(Self.ips(result) == ["10.1.0.1", "10.1.0.2"])
            #expect(Self.ttl(result) == .seconds(40))
            guard case .addresses(let addresses, _) = result else { return }
            #expect(addresses.allSatisfy { $0.port == 443 })
            #expect(Set(servers[0].udpQueries) == ["api.example.test/1", "api.example.test/28"])
        }
    }

    @Test func ipv6IsUsedOnlyWithoutIPv4() async throws {
        try await Self.withServers { servers, group in
            servers[0].set("v6.example.test", .init(records: [.init("v6.example.test", ttl: 30, .aaaa("2001:db8::7"))]))
            let result = try await Self.resolver(servers, group: group).lookup(host: "v6.example.test", port: 80).get()
            #expect(Self.ips(result) == ["2001:db8::7"])
        }
    }

    @Test func cnameChainTakesTheSmallestTTL() async throws {
        try await Self.withServers { servers, group in
            servers[0].set("www.example.test", .init(records: [
                .init("www.example.test", ttl: 20, .cname("edge.cdn.test")),
                .init("edge.cdn.test", ttl: 3600, .cname("a.edge.cdn.test")),
                .init("a.edge.cdn.test", ttl: 100, .a("192.0.2.10")),
            ]))
            let result = try await Self.resolver(servers, group: group).lookup(host: "www.example.test", port: 80).get()
            #expect(Self.ips(result) == ["192.0.2.10"])
            #expect(Self.ttl(result) == .seconds(20))
        }
    }

    @Test func hostsFileIsConsultedFirst() async throws {
        try await Self.withServers { servers, group in
            servers[0].set("pinned.example.test", .init(records: [.init("pinned.example.test", ttl: 5, .a("10.0.0.5"))]))
            let resolver = Self.resolver(
                servers, group: group,
                hosts: "127.0.0.1 localhost # loopback\n::1 localhost ip6-localhost\n10.9.9.9 Pinned.Example.test\n")
            let pinned = try await resolver.lookup(host: "pinned.example.test", port: 80).get()
            #expect(Self.ips(pinned) == ["10.9.9.9"])
            #expect(Self.ttl(pinned) == resolver.hostsTTL)
            #expect(Self.ips(try await resolver.lookup(host: "localhost", port: 80).get()) == ["127.0.0.1"])
            #expect(Self.ips(try await resolver.lookup(host: "ip6-localhost", port: 80).get()) == ["::1"])
            #expect(servers[0].udpQueries.isEmpty)
        }
    }

    @Test func truncatedAnswerIsAskedAgainOverTCP() async throws {
        try await Self.withServers { servers, group in
            var script = DNSTestServer.Script(records: [.init("big.example.test", ttl: 77, .a("10.2.0.1"))])
            script.truncateUDP = true
            servers[0].set("big.example.test", script)
            let result = try await Self.resolver(servers, group: group).lookup(host: "big.example.test", port: 80).get()
            #expect(Self.ips(result) == ["10.2.0.1"])
            #expect(Self.ttl(result) == .seconds(77))
            #expect(servers[0].udpQueries.contains("big.example.test/1"))
            #expect(servers[0].tcpQueries.contains("big.example.test/1"))
        }
    }

    @Test func timeoutMovesOnToTheNextServer() async throws {
        try await Self.withServers(count: 2) { servers, group in
            var silent = DNSTestServer.Script()
            silent.silent = true
            servers[0].set("slow.example.test", silent)
            servers[1].set("slow.example.test", .init(records: [.init("slow.example.test", ttl: 9, .a("10.3.0.1"))]))
            let result = try await Self.resolver(servers, group: group).lookup(host: "slow.example.test", port: 80).get()
            #expect(Self.ips(result) == ["10.3.0.1"])
            #expect(servers[0].udpQueries.contains("slow.example.test/1"))
            #expect(servers[1].udpQueries.contains("slow.example.test/1"))
        }
    }

    @Test func serverFailureMovesOnToTheNextServer() async throws {
        try await Self.withServers(count: 2) { servers, group in
            servers[0].set("sf.example.test", .init(records: [], rcode: 2))
            servers[1].set("sf.example.test", .init(records: [.init("sf.example.test", ttl: 9, .a("10.4.0.1"))]))
            let result = try await Self.resolver(servers, group: group).lookup(host: "sf.example.test", port: 80).get()
            #expect(Self.ips(result) == ["10.4.0.1"])
        }
    }

    @Test func everyServerFailingIsAnError() async throws {
        try await Self.withServers(count: 2) { servers, group in
            for server in servers { server.set("down.example.test", .init(records: [], rcode: 2)) }
            await #expect(throws: DNSError.self) {
                _ = try await Self.resolver(servers, group: group).lookup(host: "down.example.test", port: 80).get()
            }
        }
    }

    @Test func answerWithAnotherIDIsIgnored() async throws {
        try await Self.withServers { servers, group in
            var script = DNSTestServer.Script(records: [.init("id.example.test", ttl: 9, .a("10.5.0.1"))])
            script.wrongIDFirst = true
            servers[0].set("id.example.test", script)
            let result = try await Self.resolver(servers, group: group).lookup(host: "id.example.test", port: 80).get()
            #expect(Self.ips(result) == ["10.5.0.1"])
        }
    }

    @Test func unknownNameIsANegativeAnswerWithTheSOATTL() async throws {
        try await Self.withServers { servers, group in
            let result = try await Self.resolver(servers, group: group).lookup(host: "gone.example.test", port: 80).get()
            #expect(result == .negative(reason: "no such name (NXDOMAIN)", ttl: .seconds(60)))
            var nodata = DNSTestServer.Script(records: [.init("txt.example.test", ttl: 9, .aaaa("2001:db8::1"))])
            nodata.negativeTTL = 12
            servers[0].set("txt.example.test", nodata)
            let v6 = try await Self.resolver(servers, group: group).lookup(host: "txt.example.test", port: 80).get()
            #expect(Self.ips(v6) == ["2001:db8::1"])
            servers[0].set("none.example.test", nodata)
            let none = try await Self.resolver(servers, group: group).lookup(host: "none.example.test", port: 80).get()
            #expect(none == .negative(reason: "no address records (NODATA)", ttl: .seconds(12)))
        }
    }

    @Test func searchDomainsFollowNdots() async throws {
        try await Self.withServers { servers, group in
            servers[0].set("db.corp.test", .init(records: [.init("db.corp.test", ttl: 9, .a("10.6.0.1"))]))
            let resolver = Self.resolver(servers, group: group, search: ["corp.test"])
            #expect(Self.ips(try await resolver.lookup(host: "db", port: 80).get()) == ["10.6.0.1"])
            #expect(servers[0].udpQueries.first == "db.corp.test/1" || servers[0].udpQueries.first == "db.corp.test/28")
            // A dotted name is tried as given first; the search domain only after NXDOMAIN.
            _ = try await resolver.lookup(host: "x.example", port: 80).get()
            #expect(servers[0].udpQueries.suffix(4).sorted() == [
                "x.example.corp.test/1", "x.example.corp.test/28", "x.example/1", "x.example/28",
            ])
        }
    }

    @Test func numericNamesAreNeverQueried() async throws {
        try await Self.withServers { servers, group in
            await #expect(throws: DNSError.self) {
                _ = try await Self.resolver(servers, group: group).lookup(host: "2130706433", port: 80).get()
            }
            #expect(servers[0].udpQueries.isEmpty)
        }
    }
}

/// resolv.conf and /etc/hosts parsing.
@Suite struct DNSResolverConfigurationTests {
    @Test func resolvConfIsParsedWithLimits() {
        let config = DNSResolverConfiguration.parse("""
            # comment
            nameserver 10.0.0.53
            nameserver fe80::1%eth0
            nameserver bogus
            nameserver 10.0.0.54 ; trailing comment
            nameserver 10.0.0.55
            domain old.example
            search svc.cluster.local cluster.local.
            options ndots:5 timeout:0 attempts:9 rotate
            """)
        #expect(config.nameservers.compactMap(\.ipAddress) == ["10.0.0.53", "fe80::1", "10.0.0.54"])
        #expect(config.nameservers.allSatisfy { $0.port == 53 })
        #expect(config.search == ["svc.cluster.local", "cluster.local"])
        #expect(config.ndots == 5)
        #expect(config.timeout == .seconds(1))
        #expect(config.attempts == 5)
        #expect(config.candidates(for: "api.example.com") == [
            "api.example.com.svc.cluster.local", "api.example.com.cluster.local", "api.example.com",
        ])
        #expect(config.candidates(for: "api.example.com.") == ["api.example.com"])
    }

    @Test func defaultsMatchGlibc() {
        let config = DNSResolverConfiguration.parse("")
        #expect(config.nameservers.isEmpty)
        #expect(config.ndots == 1 && config.timeout == .seconds(5) && config.attempts == 2)
        #expect(config.candidates(for: "db") == ["db"])
    }

    @Test func serverAddressesTakeAPort() {
        #expect(DNSResolverConfiguration.serverAddress("127.0.0.1:5353")?.port == 5353)
        #expect(DNSResolverConfiguration.serverAddress("127.0.0.1")?.port == 53)
        #expect(DNSResolverConfiguration.serverAddress("[::1]:5353")?.ipAddress == "::1")
        #expect(DNSResolverConfiguration.serverAddress("::1")?.port == 53)
        #expect(DNSResolverConfiguration.serverAddress("127.0.0.1:0") == nil)
        #expect(DNSResolverConfiguration.serverAddress("dns.example:53") == nil)
    }

    @Test func hostsFileKeepsOrderAndSkipsJunk() {
        let hosts = DNSHostsFile.parse("""
            127.0.0.1\tlocalhost
            ::1 localhost
            not-an-ip foo
            %
            10.0.0.1
            10.0.0.2 a.example b.example # c.example
            10.0.0.3 A.EXAMPLE.
            """)
        #expect(hosts.addresses(of: "LOCALHOST")?.compactMap(\.ipAddress) == ["127.0.0.1", "::1"])
        #expect(hosts.addresses(of: "a.example.")?.compactMap(\.ipAddress) == ["10.0.0.2", "10.0.0.3"])
        #expect(hosts.addresses(of: "c.example") == nil)
        #expect(hosts.addresses(of: "foo") == nil)
    }
}
