import NIOCore

/// Names from `/etc/hosts` (hosts(5)), consulted before any DNS query so that `localhost` and local overrides
/// keep working exactly as `getaddrinfo` with `hosts: files dns` would.
///
/// Each line is `ADDRESS NAME [ALIAS...]`; `#` starts a comment. Names compare case-insensitively. Addresses keep
/// file order, IPv4 and IPv6 apart, so the resolver can apply its family preference.
public struct DNSHostsFile: Sendable, Hashable {
    private var table: [String: [SocketAddress]] = [:]

    public init() {}

    public static func parse(_ text: String) -> DNSHostsFile {
        var hosts = DNSHostsFile()
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.prefix { $0 != "#" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2,
                let address = try? SocketAddress(ipAddress: String(words[0].split(separator: "%").first ?? ""), port: 0)
            else { continue }
            for name in words.dropFirst() {
                var key = name.lowercased()
                if key.hasSuffix(".") { key.removeLast() }
                if hosts.table[key]?.contains(address) != true { hosts.table[key, default: []].append(address) }
            }
        }
        return hosts
    }

    /// The addresses listed for `name` (port 0), or nil when the file does not name it.
    public func addresses(of name: String) -> [SocketAddress]? {
        var key = name.lowercased()
        if key.hasSuffix(".") { key.removeLast() }
        return self.table[key]
    }
}
