import NIOCore

/// What the stub resolver reads from `/etc/resolv.conf` (resolv.conf(5)), with glibc's defaults and limits.
///
/// - `nameserver IP` (at most 3, as `MAXNS`); always port 53: resolv.conf has no port syntax, so tests and
///   split-horizon set-ups name servers with `--dns-server HOST:PORT` instead (`overridingServers`).
/// - `search a b c` / `domain d` (the last one wins), `options ndots:N timeout:N attempts:N` (ndots ≤ 15,
///   timeout 1...30 s, attempts 1...5). Unknown lines and options are ignored.
public struct DNSResolverConfiguration: Sendable, Hashable {
    public var nameservers: [SocketAddress]
    public var search: [String]
    public var ndots: Int
    /// Time to wait for one server's answer to one query.
    public var timeout: Duration
    /// Rounds through the server list.
    public var attempts: Int

    public init(
        nameservers: [SocketAddress] = [], search: [String] = [], ndots: Int = 1, timeout: Duration = .seconds(5),
        attempts: Int = 2
    ) {
        self.nameservers = nameservers
        self.search = search
        self.ndots = ndots
        self.timeout = timeout
        self.attempts = attempts
    }

    /// Parses the text of a resolv.conf.
    public static func parse(_ text: String) -> DNSResolverConfiguration {
        var config = DNSResolverConfiguration()
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.prefix { $0 != "#" && $0 != ";" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = words.first else { continue }
            let values = words.dropFirst()
            switch keyword {
            case "nameserver":
                guard config.nameservers.count < 3, let text = values.first,
                    let address = try? SocketAddress(ipAddress: Self.stripZone(text), port: 53)
                else { continue }
                config.nameservers.append(address)
            case "search":
                config.search = values.map(Self.trimDot).filter { !$0.isEmpty }
            case "domain":
                config.search = values.first.map { [Self.trimDot($0)] }?.filter { !$0.isEmpty } ?? []
            case "options":
                for option in values { config.apply(option: option) }
            default:
                continue
            }
        }
        return config
    }

    /// Replaces the servers with `HOST:PORT` or `[V6]:PORT` entries (the `--dns-server` option).
    public func overridingServers(_ servers: [SocketAddress]) -> DNSResolverConfiguration {
        var copy = self
        if !servers.isEmpty { copy.nameservers = servers }
        return copy
    }

    /// `127.0.0.1:5353`, `[::1]:53`; nil when malformed.
    public static func serverAddress(_ text: String) -> SocketAddress? {
        var host = Substring(text)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard (1...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: String(host), port: port)
    }

    private mutating func apply(option: String) {
        let parts = option.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let value = Int(parts[1]) else { return }
        switch parts[0] {
        case "ndots": self.ndots = min(max(value, 0), 15)
        case "timeout": self.timeout = .seconds(min(max(value, 1), 30))
        case "attempts": self.attempts = min(max(value, 1), 5)
        default: break
        }
    }

    private static func stripZone(_ text: String) -> String {
        text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
    }

    private static func trimDot(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    /// The names to query for `name`, in order (resolv.conf(5) `ndots`, `search`): a name with a final dot is
    /// tried only as given; one with at least `ndots` dots is tried as given first, then with each search
    /// domain; others with the search domains first.
    public func candidates(for name: String) -> [String] {
        let lower = name.lowercased()
        if lower.hasSuffix(".") { return [String(lower.dropLast())] }
        // A search suffix that makes the name too long for DNS (253 bytes) is skipped.
        let searched = self.search.map { "\(lower).\($0)" }.filter { $0.utf8.count <= 253 }
        let dots = lower.utf8.count(where: { $0 == UInt8(ascii: ".") })
        return dots >= self.ndots ? [lower] + searched : searched + [lower]
    }
}
