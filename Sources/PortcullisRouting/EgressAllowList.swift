import PortcullisModel

/// What the egress allow-list says about one `host:port` target.
public enum EgressDecision: Sendable, Hashable {
    /// Declared by this ServiceEntry (`namespace/name`).
    case allowed(serviceEntry: String)
    /// Refused; `reason` names the rule, e.g. `api.evil.example:443 is not in any ServiceEntry`.
    case denied(reason: String)
}

/// The forward-proxy allow-list (issue 5; HARDENING §B7 rows 1, 6 and 9; ISTIO-SEMANTICS §4.1-4.2): exactly the
/// union of the ServiceEntries visible from the gateway's namespace, by **host and port**.
///
/// - A DNS-name target is allowed when an entry's host equals it (case-insensitive, one trailing dot ignored) or an
///   entry's wildcard host `*.suffix` covers it, and the port is one of that entry's `ports[].number`.
/// - An IP-literal target is allowed only when an entry's `addresses` (IP or CIDR) contains it and the port is one
///   of that entry's ports. IP literals never match `hosts`.
/// - Only canonical literals are accepted: a dotted quad without leading zeros, or a bracketed IPv6 address without
///   zone. IPv4-mapped IPv6 (`[::ffff:127.0.0.1]`) is reduced to its IPv4 address. Any other all-numeric form that
///   `inet_aton` would read as an address (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) is refused (envoy#28002).
public struct EgressAllowList: Sendable {
    struct Entry: Sendable {
        let name: String
        /// Lower-cased, without a trailing dot: exact names, and wildcard suffixes (`*.a.com` → `.a.com`).
        let exactHosts: Set<String>
        let wildcardSuffixes: [String]
        let ranges: [EgressIPRange]
        let ports: Set<Int>
    }

    let entries: [Entry]

    init(entries: [Entry]) {
        self.entries = entries
    }

    /// Compiles the ServiceEntries of `config` exported to `gatewayNamespace` (§6 "Visibility": empty or `*`, `.`
    /// in their own namespace, or that namespace by name; `~` = nobody). Entries keep config order; the first
    /// match wins, so the reported ServiceEntry is stable.
    public static func compile(_ config: ConfigSet, gatewayNamespace: String) -> EgressAllowList {
        var entries: [Entry] = []
        for entry in config.serviceEntries
        where Self.isVisible(exportTo: entry.exportTo, namespace: entry.meta.namespace, from: gatewayNamespace) {
            var exact: Set<String> = []
            var suffixes: [String] = []
            for host in entry.hosts {
                let name = Self.normalizedName(host)
                if name.hasPrefix("*.") {
                    suffixes.append(String(name.dropFirst()))
                } else if name.hasPrefix("*") {
                    // `*foo.com` (Istio allows a partial first label): any name ending in `foo.com`.
                    suffixes.append(String(name.dropFirst()))
                } else {
                    exact.insert(name)
                }
            }
            entries.append(
                Entry(
                    name: "\(entry.meta.namespace)/\(entry.meta.name)", exactHosts: exact, wildcardSuffixes: suffixes,
                    ranges: entry.addresses.compactMap(EgressIPRange.init), ports: Set(entry.ports.map(\.number))))
        }
        return EgressAllowList(entries: entries)
    }

    /// Decides whether `host:port` may be reached. `host` is the authority's host as received: a DNS name, a dotted
    /// quad, or an IPv6 address with or without brackets.
    public func decide(host: String, port: Int) -> EgressDecision {
        let target = "\(host):\(port)"
        guard (1...65535).contains(port) else { return .denied(reason: "\(target): invalid port") }
        switch EgressHost.parse(host) {
        case .failure(let problem):
            return .denied(reason: "\(target): \(problem.reason)")
        case .success(.name(let name)):
            var hostMatched = false
            for entry in self.entries where entry.covers(name: name) {
                hostMatched = true
                if entry.ports.contains(port) { return .allowed(serviceEntry: entry.name) }
            }
            return .denied(
                reason: hostMatched
                    ? "\(target): port \(port) is not declared by the ServiceEntry for \(name)"
                    : "\(target) is not in any ServiceEntry")
        case .success(.address(let address)):
            var addressMatched = false
            for entry in self.entries where entry.ranges.contains(where: { $0.contains(address) }) {
                addressMatched = true
                if entry.ports.contains(port) { return .allowed(serviceEntry: entry.name) }
            }
            return .denied(
                reason: addressMatched
                    ? "\(target): port \(port) is not declared by the ServiceEntry for \(address)"
                    : "\(target): IP address \(address) is not in any ServiceEntry addresses")
        }
    }

    /// Whether a refusal of `host` is about an IP literal (not listed, or not canonical) rather than a name.
    public static func isAddressLike(_ host: String) -> Bool {
        switch EgressHost.parse(host) {
        case .success(.address): true
        case .success(.name): false
        case .failure(let problem): problem.isAddressLike
        }
    }

    /// Whether an IP-literal target is listed by a ServiceEntry as that single address (`1.2.3.4`, `/32`, `/128`):
    /// the explicit allowance that exempts it from the private-range refusal.
    public func listsExactly(_ address: EgressIPAddress) -> Bool {
        self.entries.contains { $0.ranges.contains { $0.isSingleAddress && $0.contains(address) } }
    }

    /// Same rule as `ClusterConfigOrder.isVisible` (ISTIO-SEMANTICS §6).
    static func isVisible(exportTo: [String], namespace: String, from viewer: String) -> Bool {
        if exportTo.isEmpty { return true }
        for target in exportTo {
            switch target {
            case "*": return true
            case ".": if namespace == viewer { return true }
            case "~": continue
            default: if target == viewer { return true }
            }
        }
        return false
    }

    /// A DNS name as the allow-list compares it: lower-cased, one trailing dot removed.
    public static func normalizedName(_ host: String) -> String {
        var name = host.lowercased()
        if name.count > 1, name.hasSuffix(".") { name.removeLast() }
        return name
    }
}

extension EgressAllowList.Entry {
    func covers(name: String) -> Bool {
        if self.exactHosts.contains(name) { return true }
        // `*.a.com` covers `x.a.com` and `x.y.a.com`, never `a.com` itself (Istio wildcard semantics).
        return self.wildcardSuffixes.contains { name.count > $0.count && name.hasSuffix($0) }
    }
}

/// A request-target host after canonicalisation (HARDENING §B7 row 1).
public enum EgressHost: Sendable, Hashable {
    /// A DNS name, lower-cased, without a trailing dot.
    case name(String)
    /// A canonical IP literal.
    case address(EgressIPAddress)

    public struct Problem: Error, Sendable, Hashable {
        public let reason: String
        /// The host was meant as an address (bracketed, with colons, or numeric) but is not a canonical one.
        public var isAddressLike = false
    }

    /// Parses an authority host. Refuses empty names, zone identifiers, and numeric forms other than a canonical
    /// dotted quad, because resolvers read `2130706433`, `0x7f.0.0.1`, `017.0.0.1` and `127.1` as addresses.
    public static func parse(_ raw: String) -> Result<EgressHost, Problem> {
        var text = raw
        if text.hasPrefix("[") {
            guard text.hasSuffix("]"), text.count > 2 else {
                return .failure(Problem(reason: "malformed IPv6 literal", isAddressLike: true))
            }
            text = String(text.dropFirst().dropLast())
            guard let address = EgressIPAddress(ipv6: text) else {
                return .failure(Problem(reason: "\(raw) is not a canonical IPv6 literal", isAddressLike: true))
            }
            return .success(.address(address))
        }
        if text.contains(":") {
            guard let address = EgressIPAddress(ipv6: text) else {
                return .failure(Problem(reason: "\(raw) is not a canonical IP literal", isAddressLike: true))
            }
            return .success(.address(address))
        }
        let name = EgressAllowList.normalizedName(text)
        guard !name.isEmpty, name != "." else { return .failure(Problem(reason: "empty host")) }
        if let address = EgressIPAddress(ipv4: name) { return .success(.address(address)) }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.contains(where: \.isEmpty) { return .failure(Problem(reason: "\(raw) has an empty label")) }
        // A numeric last label (`127.1`, `2130706433`) or a hex one (`0x7f`) is what inet_aton takes for an address;
        // no real top-level domain looks like that (RFC 3696 §2).
        if let last = labels.last, Self.isNumericLabel(last) {
            return .failure(
                Problem(reason: "\(raw) is not a canonical IP literal (use a dotted quad)", isAddressLike: true))
        }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
                || byte == 0x5F
        }
        guard allowed else { return .failure(Problem(reason: "\(raw) is not a valid host name")) }
        return .success(.name(name))
    }

    /// Decimal digits, or `0x` followed by hex digits.
    private static func isNumericLabel(_ label: Substring) -> Bool {
        if label.allSatisfy({ $0 >= "0" && $0 <= "9" }) { return true }
        let lower = label.lowercased()
        return lower.hasPrefix("0x") && lower.dropFirst(2).allSatisfy(\.isHexDigit)
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address. IPv4-mapped IPv6 addresses are stored as IPv4.
public struct EgressIPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.bytes = Array(bytes[12..<16])
        } else {
            self.bytes = bytes
        }
    }

    /// A canonical dotted quad: four decimal parts 0...255, no leading zeros, nothing else.
    public init?(ipv4 text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                part.count == 1 || part.first != "0", let value = Int(part), value <= 255
            else { return nil }
            bytes.append(UInt8(value))
        }
        self.bytes = bytes
    }

    /// RFC 4291 §2.2 text (no zone identifier); an embedded dotted quad must be canonical.
    public init?(ipv6 text: String) {
        guard !text.contains("%"), text.count <= 45, text.contains(":") else { return nil }
        var body = Substring(text)
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[lastColon...].contains(".") {
            guard let v4 = EgressIPAddress(ipv4: String(text[text.index(after: lastColon)...])) else { return nil }
            tail = v4.bytes
            // Keep `::` whole; drop the single separator colon before the quad.
            body = text[...lastColon]
            if !body.hasSuffix("::") { body = body.dropLast() }
        }
        let wanted = (16 - tail.count) / 2
        let doubleColons = body.ranges(of: "::").count
        guard doubleColons <= 1, !body.contains(":::") else { return nil }
        var head: [UInt16] = []
        var back: [UInt16] = []
        if doubleColons == 1 {
            let split = body.ranges(of: "::")[0]
            guard let h = Self.hexGroups(body[..<split.lowerBound]), let b = Self.hexGroups(body[split.upperBound...])
            else { return nil }
            head = h
            back = b
            guard head.count + back.count < wanted else { return nil }
        } else {
            guard let h = Self.hexGroups(body), h.count == wanted else { return nil }
            head = h
        }
        let words = head + Array(repeating: 0, count: wanted - head.count - back.count) + back
        var bytes: [UInt8] = []
        for word in words { bytes += [UInt8(word >> 8), UInt8(word & 0xFF)] }
        self.init(bytes: bytes + tail)
    }

    private static func hexGroups(_ text: Substring) -> [UInt16]? {
        if text.isEmpty { return [] }
        var result: [UInt16] = []
        for group in text.split(separator: ":", omittingEmptySubsequences: false) {
            guard !group.isEmpty, group.count <= 4, group.allSatisfy(\.isHexDigit), let v = UInt16(group, radix: 16)
            else { return nil }
            result.append(v)
        }
        return result
    }

    public var isIPv4: Bool { self.bytes.count == 4 }

    public var description: String {
        if self.isIPv4 { return self.bytes.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(self.bytes[i]) << 8 | UInt16(self.bytes[i + 1]), radix: 16))
        }
        return "[" + groups.joined(separator: ":") + "]"
    }

    /// Loopback, link-local, private, unspecified, multicast, broadcast, shared (CGNAT) and other special-purpose
    /// ranges (RFC 6890): the destinations an egress proxy must refuse unless allowed explicitly (HARDENING §B7
    /// rows 1 and 7; envoy#45360).
    public var isNonPublic: Bool {
        Self.nonPublicRanges.contains { $0.contains(self) }
    }

    static let nonPublicRanges: [EgressIPRange] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ].compactMap(EgressIPRange.init)
}

/// An IP address or `address/prefix` range (ServiceEntry `addresses`, ForwardProxy `allowedPrivateCIDRs`).
public struct EgressIPRange: Sendable, Hashable, CustomStringConvertible {
    public let network: EgressIPAddress
    public let prefixLength: Int

    /// `1.2.3.4`, `10.0.0.0/8`, `::1`, `fc00::/7`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let ipText = String(parts[0])
        let parsed = EgressIPAddress(ipv4: ipText) ?? EgressIPAddress(ipv6: ipText)
        guard let address = parsed else { return nil }
        // A mapped IPv6 range (`::ffff:10.0.0.0/104`) is stored as the IPv4 range it denotes.
        let wasV6 = ipText.contains(":")
        let maxBits = wasV6 ? 128 : 32
        var bits = maxBits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 >= "0" && $0 <= "9" }), let b = Int(parts[1]),
                b <= maxBits
            else { return nil }
            bits = b
        }
        if wasV6 && address.isIPv4 {
            guard bits >= 96 else { return nil }
            bits -= 96
        }
        self.network = address
        self.prefixLength = bits
    }

    public var isSingleAddress: Bool { self.prefixLength == self.network.bytes.count * 8 }

    public func contains(_ address: EgressIPAddress) -> Bool {
        guard address.bytes.count == self.network.bytes.count else { return false }
        var remaining = self.prefixLength
        for i in 0..<address.bytes.count where remaining > 0 {
            let take = min(8, remaining)
            let mask: UInt8 = take == 8 ? 0xFF : ~(UInt8(0xFF) >> UInt8(take))
            if address.bytes[i] & mask != self.network.bytes[i] & mask { return false }
            remaining -= take
        }
        return true
    }

    public var description: String { "\(self.network)/\(self.prefixLength)" }
}
