import NIOCore

/// What a lookup found: addresses with how long they may be cached, or an authoritative "no such name/data".
public enum DNSLookupResult: Sendable, Hashable {
    case addresses([SocketAddress], ttl: Duration)
    /// NXDOMAIN or NODATA for every candidate name; `ttl` is the SOA negative-caching time when one came.
    case negative(reason: String, ttl: Duration?)
}

/// A small stub resolver (RFC 1035 §7, resolv.conf(5)) that reports TTLs, which `getaddrinfo` cannot.
///
/// - `/etc/hosts` first (`hostsTTL`), as with `hosts: files dns`.
/// - Then each candidate name of the `search`/`ndots` rules: A and AAAA queries in parallel, each to the
///   nameservers in order, `attempts` rounds, `timeout` per try; a timeout, a transport error or a SERVFAIL,
///   REFUSED, NOTIMP or FORMERR answer moves on to the next server; a truncated UDP answer is asked again over TCP.
/// - IPv4 is preferred: the IPv6 addresses are used only when the name has no IPv4 ones (Envoy's
///   `V4_PREFERRED`; Istio resolves IPv4 for IPv4-only proxies).
/// - The TTL is the smallest one along the CNAME chain and the address records used.
///
/// Never blocks: every query is NIO I/O on an event loop of `group`.
public final class DNSStubResolver: Sendable {
    public let configuration: DNSResolverConfiguration
    public let hosts: DNSHostsFile
    public let hostsTTL: Duration
    let group: any EventLoopGroup

    public init(
        configuration: DNSResolverConfiguration, hosts: DNSHostsFile = DNSHostsFile(),
        hostsTTL: Duration = .seconds(30), group: any EventLoopGroup
    ) {
        self.configuration = configuration
        self.hosts = hosts
        self.hostsTTL = hostsTTL
        self.group = group
    }

    /// The addresses of `host` with `port`.
    public func lookup(host: String, port: Int) -> EventLoopFuture<DNSLookupResult> {
        let loop = self.group.next()
        if let listed = self.hosts.addresses(of: host) {
            let v4 = listed.filter { $0.protocol == .inet }
            let chosen = (v4.isEmpty ? listed : v4).compactMap { Self.withPort($0, port) }
            return loop.makeSucceededFuture(.addresses(chosen, ttl: self.hostsTTL))
        }
        guard DNSHostSyntax.isResolvable(host) else {
            return loop.makeFailedFuture(DNSError(host: host, reason: "not a DNS name"))
        }
        guard !self.configuration.nameservers.isEmpty else {
            return loop.makeFailedFuture(DNSError(host: host, reason: "no nameservers"))
        }
        return self.tryCandidates(self.configuration.candidates(for: host)[...], host: host, port: port, on: loop)
    }

    private func tryCandidates(
        _ names: ArraySlice<String>, host: String, port: Int, on loop: EventLoop,
        lastNegative: DNSLookupResult? = nil
    ) -> EventLoopFuture<DNSLookupResult> {
        guard let name = names.first else {
            return loop.makeSucceededFuture(lastNegative ?? .negative(reason: "no address", ttl: nil))
        }
        return self.lookupBothFamilies(name, port: port, on: loop).flatMap { result in
            switch result {
            case .addresses: return loop.makeSucceededFuture(result)
            case .negative:
                return self.tryCandidates(names.dropFirst(), host: host, port: port, on: loop, lastNegative: result)
            }
        }.flatMapErrorThrowing { error in
            throw (error as? DNSError) ?? DNSError(host: host, reason: "\(error)")
        }
    }

    /// A and AAAA for one name, combined with the IPv4 preference.
    private func lookupBothFamilies(
        _ name: String, port: Int, on loop: EventLoop
    ) -> EventLoopFuture<DNSLookupResult> {
        let v4 = self.query(name, type: DNSRecordType.a, on: loop)
        let v6 = self.query(name, type: DNSRecordType.aaaa, on: loop)
        return EventLoopFuture.whenAllComplete([v4, v6], on: loop).flatMapThrowing { results in
            let (a, aaaa) = (results[0], results[1])
            for answer in results {
                if case .success(.addresses(let raw, let ttl)) = answer {
                    let addresses = raw.compactMap { Self.address($0, port: port) }
                    if !addresses.isEmpty { return .addresses(addresses, ttl: .seconds(Int64(ttl))) }
                }
            }
            if case .failure(let error) = a { throw DNSError(host: name, reason: "\(error)") }
            if case .failure(let error) = aaaa { throw DNSError(host: name, reason: "\(error)") }
            var nameError = false
            var ttl: UInt32?
            for case .success(.negative(let nx, let negativeTTL)) in [a, aaaa] {
                nameError = nameError || nx
                if let negativeTTL { ttl = min(ttl ?? negativeTTL, negativeTTL) }
            }
            return .negative(
                reason: nameError ? "no such name (NXDOMAIN)" : "no address records (NODATA)",
                ttl: ttl.map { .seconds(Int64($0)) })
        }
    }

    /// One question to the servers in turn: `attempts` rounds over the list.
    private func query(_ name: String, type: UInt16, on loop: EventLoop) -> EventLoopFuture<DNSAnswer> {
        let servers = self.configuration.nameservers
        let tries = servers.count * max(1, self.configuration.attempts)
        let question = DNSQuestion(name: name, type: type)
        let timeout = self.configuration.timeout
        @Sendable func attempt(_ index: Int, lastError: String) -> EventLoopFuture<DNSAnswer> {
            guard index < tries else {
                return loop.makeFailedFuture(DNSTransportError(description: lastError))
            }
            let server = servers[index % servers.count]
            let id = UInt16.random(in: 0...UInt16.max)
            let bytes: [UInt8]
            do {
                bytes = try DNSMessage.query(id: id, name: name, type: type)
            } catch {
                return loop.makeFailedFuture(error)
            }
            return DNSTransport.exchange(
                query: bytes, id: id, question: question, server: server, timeout: timeout, on: loop
            ).flatMap { message -> EventLoopFuture<DNSAnswer> in
                switch message.responseCode {
                case DNSResponseCode.noError, DNSResponseCode.nameError:
                    return loop.makeSucceededFuture(message.answer(for: question))
                default:
                    return attempt(index + 1, lastError: "\(server) answered rcode \(message.responseCode)")
                }
            }.flatMapError { error in
                attempt(index + 1, lastError: "\(error)")
            }
        }
        return attempt(0, lastError: "no nameservers")
    }

    private static func address(_ raw: [UInt8], port: Int) -> SocketAddress? {
        switch raw.count {
        case 4:
            return try? SocketAddress(ipAddress: raw.map(String.init).joined(separator: "."), port: port)
        case 16:
            var groups: [String] = []
            for index in stride(from: 0, to: 16, by: 2) {
                groups.append(String(UInt16(raw[index]) << 8 | UInt16(raw[index + 1]), radix: 16))
            }
            return try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: port)
        default:
            return nil
        }
    }

    private static func withPort(_ address: SocketAddress, _ port: Int) -> SocketAddress? {
        guard let ip = address.ipAddress else { return nil }
        return try? SocketAddress(ipAddress: ip, port: port)
    }
}
