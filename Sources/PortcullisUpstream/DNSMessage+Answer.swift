/// What a response says about the name asked for: its addresses, or that there are none (RFC 2308).
public enum DNSAnswer: Sendable, Hashable {
    /// Raw addresses (4 or 16 bytes) and the smallest TTL along the CNAME chain and the address records.
    case addresses([[UInt8]], ttl: UInt32)
    /// NODATA (the name exists without records of the type) or NXDOMAIN; `ttl` is the negative-caching time from
    /// the authority section's SOA (`min(SOA TTL, MINIMUM)`, RFC 2308 §5), nil when no SOA came with it.
    case negative(nameError: Bool, ttl: UInt32?)
}

extension DNSMessage {
    /// Longest CNAME chain followed; real chains are short and a longer one is a loop or an attack.
    static let maxChain = 16

    /// The answer for `question`, following CNAMEs from the question's name only: records that the chain does not
    /// reach (out-of-bailiwick extras, RFC 2181 §5.4.1) are ignored. Call only after `matches(_:)`.
    public func answer(for question: DNSQuestion) -> DNSAnswer {
        var current = question.name
        var ttl = UInt32.max
        var visited: Set<String> = [current]
        for _ in 0...Self.maxChain {
            let found = self.answers.filter {
                $0.name == current && $0.type == question.type && $0.klass == question.klass
            }
            let addresses = found.compactMap { record -> [UInt8]? in
                if case .address(let bytes) = record.data { return bytes }
                return nil
            }
            if !addresses.isEmpty {
                return .addresses(addresses, ttl: found.reduce(ttl) { min($0, $1.ttl) })
            }
            let alias = self.answers.first {
                $0.name == current && $0.type == DNSRecordType.cname && $0.klass == question.klass
            }
            guard let alias, case .name(let target) = alias.data, visited.insert(target).inserted else { break }
            ttl = min(ttl, alias.ttl)
            current = target
        }
        let soa = self.authority.lazy.compactMap { record -> UInt32? in
            if case .soa(let minimum) = record.data { return min(record.ttl, minimum) }
            return nil
        }.first
        return .negative(nameError: self.responseCode == DNSResponseCode.nameError, ttl: soa)
    }

    /// Whether this is the response to a query with `id` and `question` (RFC 5452 §9.1: id, name, type and class
    /// must all match; names compare case-insensitively, and `DNSReader` lower-cases them).
    public func matches(id: UInt16, question: DNSQuestion) -> Bool {
        guard self.isResponse, self.id == id, self.opcode == 0, let asked = self.question else { return false }
        return asked.name == question.name && asked.type == question.type && asked.klass == question.klass
    }
}
