/// Request-line pieces: version, request-target forms and authorities (RFC 9112 §2.3 and §3.2, RFC 3986 §3.2).
extension HTTP1RequestParser {
    enum VersionCheck {
        case minor(Int)
        case unsupported
        case invalid
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). Only 1.0 and 1.1 are served;
    /// other well-formed versions get 505.
    static func version(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> VersionCheck {
        guard end - start == 8,
            bytes[start] == 0x48, bytes[start + 1] == 0x54, bytes[start + 2] == 0x54, bytes[start + 3] == 0x50,
            bytes[start + 4] == 0x2F, bytes[start + 6] == 0x2E
        else { return .invalid }
        let major = bytes[start + 5] &- 0x30
        let minor = bytes[start + 7] &- 0x30
        guard major < 10, minor < 10 else { return .invalid }
        guard major == 1, minor <= 1 else { return .unsupported }
        return .minor(Int(minor))
    }

    /// Classifies and validates the request-target (RFC 9112 §3.2). The target bytes are already known to be
    /// visible ASCII. CONNECT takes authority-form only, `*` only with OPTIONS, and absolute-form only for the
    /// http and https schemes, without userinfo (HARDENING.md §B1 rows 17 and 18).
    static func targetForm(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, isConnect: Bool, isOptions: Bool
    ) -> HTTP1RequestHead.TargetForm? {
        if isConnect {
            return Self.isValidAuthority(bytes, start, end, allowEmptyHost: false, requirePort: true)
                ? .authority : nil
        }
        if bytes[start] == 0x2F {
            return .origin
        }
        if end - start == 1 && bytes[start] == 0x2A {
            return isOptions ? .asterisk : nil
        }
        let scheme: String
        let authorityStart: Int
        if HTTP1Byte.equalsLowercased(bytes, start, min(end, start + 7), "http://") {
            scheme = "http"
            authorityStart = start + 7
        } else if HTTP1Byte.equalsLowercased(bytes, start, min(end, start + 8), "https://") {
            scheme = "https"
            authorityStart = start + 8
        } else {
            return nil
        }
        var authorityEnd = authorityStart
        while authorityEnd < end {
            let byte = bytes[authorityEnd]
            if byte == 0x2F || byte == 0x3F || byte == 0x23 { break }
            authorityEnd += 1
        }
        guard Self.isValidAuthority(bytes, authorityStart, authorityEnd, allowEmptyHost: false, requirePort: false)
        else { return nil }
        return .absolute(scheme: scheme, authority: HTTP1Byte.string(bytes, authorityStart, authorityEnd))
    }

    /// authority = host [ ":" port ] without userinfo (RFC 3986 §3.2, RFC 9110 §4.2.4 forbids userinfo in http
    /// URIs). The host is an IP-literal in brackets or a run of reg-name/IPv4 characters; the port is 1-5 digits.
    static func isValidAuthority(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, allowEmptyHost: Bool, requirePort: Bool
    ) -> Bool {
        var index = start
        if index < end && bytes[index] == 0x5B {
            index += 1
            while index < end && bytes[index] != 0x5D {
                let byte = bytes[index]
                guard HTTP1Byte.isHostChar(byte), byte != 0x5B else { return false }
                index += 1
            }
            guard index < end, index > start + 1 else { return false }
            index += 1
        } else {
            while index < end && bytes[index] != HTTP1Byte.colon {
                let byte = bytes[index]
                guard HTTP1Byte.isHostChar(byte), byte != 0x5B, byte != 0x5D else { return false }
                index += 1
            }
            if index == start && !allowEmptyHost { return false }
            if index == start && index < end { return false }
        }
        guard index < end else { return !requirePort }
        guard bytes[index] == HTTP1Byte.colon else { return false }
        index += 1
        let portStart = index
        while index < end {
            guard bytes[index] &- 0x30 < 10 else { return false }
            index += 1
        }
        return index > portStart && index - portStart <= 5
    }

    /// Validates a Host field value as an authority; an empty value is allowed (RFC 9112 §3.2).
    static func isValidHostField(_ host: String) -> Bool {
        var host = host
        return host.withUTF8 { utf8 in
            Self.isValidAuthority(
                UnsafeRawBufferPointer(utf8), 0, utf8.count, allowEmptyHost: true, requirePort: false)
        }
    }
}
