/// Kubernetes and Istio name rules used by validation (ISTIO-SEMANTICS §1.3, §2.1, §6).
enum NameSyntax {
    /// RFC 1123 label as Kubernetes checks it: lower-case alphanumerics and `-`, 1-63 chars, alnum at both ends.
    static func isDNS1123Label(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63 else { return false }
        guard self.isLowerAlnum(u[0]), self.isLowerAlnum(u[u.count - 1]) else { return false }
        return u.allSatisfy { self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 chars (Kubernetes object names).
    static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            self.isDNS1123Label(String($0))
        }
    }

    /// Istio's host label: like a DNS label but upper case is allowed (`pkg/config/labels`).
    static func isHostLabel(_ s: Substring) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63 else { return false }
        func alnum(_ c: UInt8) -> Bool { self.isLowerAlnum(c) || (c >= 65 && c <= 90) }
        guard alnum(u[0]), alnum(u[u.count - 1]) else { return false }
        return u.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// Istio `ValidateWildcardDomain`: `*`, or a domain whose first label may start with `*` (`*.a.com`,
    /// `*foo.com`), every other label a host label, optional trailing dot, at most 255 chars.
    static func wildcardDomainProblem(_ domain: String) -> String? {
        if domain.isEmpty { return "empty domain name not allowed" }
        if domain.utf8.count > 255 { return "domain name \"\(domain)\" too long (max 255)" }
        if domain == "*" { return nil }
        var labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last == "" { labels.removeLast() }
        let first = labels[0]
        let firstOK = first == "*" || self.isHostLabel(first.hasPrefix("*") ? first.dropFirst() : first)
        if !firstOK { return "domain name \"\(domain)\" invalid (label \"\(first)\" invalid)" }
        for label in labels.dropFirst() where !self.isHostLabel(label) {
            return "domain name \"\(domain)\" invalid (label \"\(label)\" invalid)"
        }
        return nil
    }

    /// A literal IPv4 or IPv6 address (no port, no CIDR suffix).
    static func isIPAddress(_ s: String) -> Bool { self.isIPv4(s) || self.isIPv6(s) }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { p in
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCIIDigitChar), let v = Int(p) else { return false }
            return v <= 255 && (p.count == 1 || p.first != "0")
        }
    }

    static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":"), s.count <= 45 else { return false }
        var text = Substring(s)
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        var groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var maxGroups = 8
        if let last = groups.last, last.contains(".") {
            guard self.isIPv4(last) else { return false }
            groups.removeLast()
            maxGroups = 6
        }
        let compressed = text.contains("::")
        if text.contains(":::") || text.ranges(of: "::").count > 1 { return false }
        let nonEmpty = groups.filter { !$0.isEmpty }
        guard nonEmpty.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        return compressed ? nonEmpty.count < maxGroups : (groups.count == maxGroups && nonEmpty.count == maxGroups)
    }

    /// `ip/prefix` with a prefix length valid for the address family.
    static func isCIDR(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bits = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigitChar) else { return false }
        let ip = String(parts[0])
        if self.isIPv4(ip) { return bits >= 0 && bits <= 32 }
        if self.isIPv6(ip) { return bits >= 0 && bits <= 128 }
        return false
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
}

extension Character {
    var isASCIIDigitChar: Bool { self >= "0" && self <= "9" }
}
