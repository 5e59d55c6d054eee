import NIOCore

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Why a name did not resolve.
public struct DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let reason: String

    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    public var description: String { "DNS lookup of \(self.host) failed: \(self.reason)" }
}

/// Blocking name resolution with `getaddrinfo`. Runs only on `DNSCache`'s thread pool, never on an event loop.
enum DNSSystemResolver {
    /// All TCP addresses of `host`, IPv4 first then IPv6 (each in resolver order, duplicates removed).
    ///
    /// IPv4 first matches Istio's default `dns_lookup_family` preference for v4 on dual-stack answers.
    static func lookup(host: String, port: Int) throws -> [SocketAddress] {
        guard DNSHostSyntax.isResolvable(host) else { throw DNSError(host: host, reason: "not a DNS name") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw DNSError(host: host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }
        var v4: [SocketAddress] = []
        var v6: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let raw = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                    v4.append(SocketAddress(address, host: host))
                case AF_INET6:
                    let address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                    v6.append(SocketAddress(address, host: host))
                default:
                    break
                }
            }
            cursor = info.pointee.ai_next
        }
        var seen = Set<SocketAddress>()
        let all = (v4 + v6).filter { seen.insert($0).inserted }
        guard !all.isEmpty else { throw DNSError(host: host, reason: "no IPv4 or IPv6 address") }
        return all
    }
}

/// Which strings may be handed to the system resolver (HARDENING §B7).
enum DNSHostSyntax {
    /// A DNS name of letters, digits, `-`, `_` and dots, at most 253 bytes, whose last label is not all digits.
    ///
    /// Rejecting numeric last labels stops `getaddrinfo` from accepting legacy IPv4 spellings such as `2130706433`
    /// or `127.1`, which would slip past allow-lists written for canonical addresses.
    static func isResolvable(_ host: String) -> Bool {
        let name = host.hasSuffix(".") ? String(host.dropLast()) : host
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63 else { return false }
            let ok = label.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F
            }
            guard ok else { return false }
        }
        return !labels.last!.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The address for an IP literal (`10.0.0.1`, `::1`, `[::1]`) or `unix:///path`; nil for names.
    static func literal(_ host: String, port: Int) -> SocketAddress? {
        if host.hasPrefix("unix://") {
            return try? SocketAddress(unixDomainSocketPath: String(host.dropFirst("unix://".count)))
        }
        var bare = Substring(host)
        if bare.hasPrefix("[") && bare.hasSuffix("]") { bare = bare.dropFirst().dropLast() }
        guard bare.contains(":") || bare.first?.isNumber == true else { return nil }
        return try? SocketAddress(ipAddress: String(bare), port: port)
    }
}
