/// RFC 9113 §8.2–§8.3 checks on decoded header lists, run in Swift after nghttp2's own HTTP messaging checks as
/// a second line of defence for what reaches an HTTP/1 encoder (HARDENING §B2).
enum HTTP2HeaderValidation {
    /// Connection-specific fields, malformed in HTTP/2 (RFC 9113 §8.2.2).
    static let connectionSpecific: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    ]

    /// Why a header list was rejected.
    struct Failure: Error, Equatable {
        var reason: String
    }

    /// Validates a request head: pseudo-headers first, known, not repeated; `:method`, `:scheme` and a `:path`
    /// starting with `/` (or `*` for OPTIONS), or CONNECT with only `:method` and `:authority`; `host`
    /// agreeing with `:authority`; plus the field rules of `validateFields`.
    static func validateRequest(_ headers: [HTTP2Header]) -> Failure? {
        var pseudo: [String: String] = [:]
        var regularSeen = false
        var host: String?
        for header in headers {
            if header.name.hasPrefix(":") {
                guard !regularSeen else { return Failure(reason: "pseudo-header \(header.name) after a regular one") }
                guard [":method", ":scheme", ":authority", ":path"].contains(header.name) else {
                    return Failure(reason: "unknown pseudo-header \(header.name)")
                }
                guard pseudo.updateValue(header.value, forKey: header.name) == nil else {
                    return Failure(reason: "duplicate \(header.name)")
                }
            } else {
                regularSeen = true
                if header.name == "host" { host = header.value }
            }
        }
        if let failure = self.validateFields(headers) { return failure }
        guard let method = pseudo[":method"], !method.isEmpty else { return Failure(reason: "missing :method") }
        if method == "CONNECT" {
            guard pseudo[":authority"]?.isEmpty == false else { return Failure(reason: "CONNECT without :authority") }
            guard pseudo[":scheme"] == nil, pseudo[":path"] == nil else {
                return Failure(reason: "CONNECT with :scheme or :path")
            }
        } else {
            guard pseudo[":scheme"]?.isEmpty == false else { return Failure(reason: "missing :scheme") }
            guard let path = pseudo[":path"], !path.isEmpty else { return Failure(reason: "missing :path") }
            guard path.hasPrefix("/") || (path == "*" && method == "OPTIONS") else {
                return Failure(reason: ":path must start with /")
            }
        }
        if let authority = pseudo[":authority"], let host, authority.lowercased() != host.lowercased() {
            return Failure(reason: ":authority and host differ")
        }
        return nil
    }

    /// Validates a response head: exactly one three-digit `:status` first and no other pseudo-header.
    static func validateResponse(_ headers: [HTTP2Header]) -> Failure? {
        guard let first = headers.first, first.name == ":status", first.value.utf8.count == 3,
            first.value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return Failure(reason: "missing or invalid :status") }
        guard !headers.dropFirst().contains(where: { $0.name.hasPrefix(":") }) else {
            return Failure(reason: "unexpected pseudo-header in response")
        }
        return self.validateFields(headers)
    }

    /// Validates trailers: no pseudo-headers at all (RFC 9113 §8.1).
    static func validateTrailers(_ headers: [HTTP2Header]) -> Failure? {
        guard !headers.contains(where: { $0.name.hasPrefix(":") }) else {
            return Failure(reason: "pseudo-header in trailers")
        }
        return self.validateFields(headers)
    }

    /// Field rules for every block: non-empty lower-case token names, no connection-specific fields, `te` only
    /// `trailers`, and values without CR, LF, NUL or leading/trailing whitespace (RFC 9113 §8.2.1, §8.2.2).
    static func validateFields(_ headers: [HTTP2Header]) -> Failure? {
        for header in headers {
            let name = header.name.hasPrefix(":") ? Substring(header.name.dropFirst()) : Substring(header.name)
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isLowercaseTokenByte) else {
                return Failure(reason: "invalid header name \(header.name)")
            }
            if Self.connectionSpecific.contains(header.name) {
                return Failure(reason: "connection-specific header \(header.name)")
            }
            if header.name == "te" && header.value != "trailers" {
                return Failure(reason: "te other than trailers")
            }
            let value = header.value.utf8
            if value.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) {
                return Failure(reason: "CR, LF or NUL in \(header.name)")
            }
            if let first = value.first, let last = value.last,
                first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
            {
                return Failure(reason: "leading or trailing whitespace in \(header.name)")
            }
        }
        return nil
    }

    /// RFC 9110 §5.6.2 token characters, excluding upper case.
    private static func isLowercaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
