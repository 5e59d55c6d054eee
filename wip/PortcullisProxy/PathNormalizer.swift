/// Path normalization as Istio's default (`BASE`, ISTIO-SEMANTICS §5.6): the one canonical path that routing,
/// authorization and the upstream request all see.
///
/// - percent-escapes of unreserved characters are decoded (`%41` → `A`), others kept (hex upper-cased);
///   `%2F`/`%5C` stay encoded;
/// - `\` becomes `/`;
/// - dot segments are removed (RFC 3986 §5.2.4);
/// - `%00` or a malformed escape is rejected (nil → 400).
public enum PathNormalizer {
    public static func normalize(_ path: Substring) -> String? {
        let utf8 = path.utf8
        // Fast path: nothing to decode, no backslash, no dot segment.
        var needsWork = false
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\")
                || (byte == UInt8(ascii: ".") && previous == UInt8(ascii: "/"))
            {
                needsWork = true
                break
            }
            previous = byte
        }
        if !needsWork { return String(path) }

        var decoded: [UInt8] = []
        decoded.reserveCapacity(utf8.count)
        var iterator = Array(utf8)[...]
        while let byte = iterator.popFirst() {
            switch byte {
            case UInt8(ascii: "%"):
                guard iterator.count >= 2,
                    let hi = hexValue(iterator[iterator.startIndex]),
                    let lo = hexValue(iterator[iterator.startIndex + 1])
                else { return nil }
                let value = hi << 4 | lo
                if value == 0 { return nil }
                iterator = iterator.dropFirst(2)
                if isUnreserved(value) {
                    decoded.append(value)
                } else {
                    decoded.append(UInt8(ascii: "%"))
                    decoded.append(hexDigit(value >> 4))
                    decoded.append(hexDigit(value & 0xF))
                }
            case UInt8(ascii: "\\"):
                decoded.append(UInt8(ascii: "/"))
            default:
                decoded.append(byte)
            }
        }
        return removeDotSegments(String(decoding: decoded, as: UTF8.self))
    }

    /// RFC 3986 §5.2.4 on an absolute path.
    static func removeDotSegments(_ path: String) -> String {
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        // segments[0] is "" for an absolute path.
        var trailingSlash = false
        for (i, segment) in segments.enumerated() where i > 0 {
            let last = i == segments.count - 1
            switch segment {
            case ".":
                trailingSlash = last
            case "..":
                if !output.isEmpty { output.removeLast() }
                trailingSlash = last
            default:
                output.append(segment)
                trailingSlash = false
            }
        }
        var result = "/" + output.joined(separator: "/")
        if trailingSlash && !result.hasSuffix("/") { result += "/" }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
