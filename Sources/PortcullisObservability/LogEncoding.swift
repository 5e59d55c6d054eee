import Foundation

/// Byte-level encoders shared by the text and JSON access-log formats.
///
/// They write straight into a `[UInt8]` so a batch of lines costs no intermediate `String`s, and they are the one
/// place that decides how hostile bytes are neutralised (HARDENING.md B6 #9).
enum LogEncoding {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a text-format field: `-` when nil or empty, else the value with `"`, `\` and control bytes escaped.
    ///
    /// Envoy prints `-` for a missing value; printing it for an empty one too keeps every field non-empty, so a
    /// space-separated parser never loses its place.
    static func appendTextField(_ value: String?, into out: inout [UInt8]) {
        guard let value, !value.isEmpty else {
            out.append(UInt8(ascii: "-"))
            return
        }
        Self.appendEscaped(value, controlPrefix: "\\x", into: &out)
    }

    /// Appends the body of a JSON string (RFC 8259 section 7): quote, backslash and control characters escaped.
    static func appendJSONEscaped(_ value: String, into out: inout [UInt8]) {
        Self.appendEscaped(value, controlPrefix: "\\u00", into: &out)
    }

    /// Escapes quote, backslash, `\n`, `\r`, `\t`; other control bytes become `controlPrefix` + two hex digits
    /// (`\x` for the text log, `\u00` for JSON).
    private static func appendEscaped(_ value: String, controlPrefix: StaticString, into out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "\n"):
                out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"):
                out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"):
                out.append(contentsOf: "\\t".utf8)
            case 0x00..<0x20, 0x7F:
                controlPrefix.withUTF8Buffer { out.append(contentsOf: $0) }
                out.append(Self.hexDigits[Int(byte >> 4)])
                out.append(Self.hexDigits[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
    }

    /// Appends a decimal integer without going through `String`.
    static func appendInteger(_ value: Int, into out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
        }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude != 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// Appends `%START_TIME%` in Envoy's default form, `2024-05-01T12:00:00.123Z` (UTC, milliseconds).
    ///
    /// Computed arithmetically (days-to-civil, proleptic Gregorian) rather than with a `DateFormatter`, which is
    /// slow and locale-dependent.
    static func appendTimestamp(_ date: Date, into out: inout [UInt8]) {
        // Round to whole microseconds first so a time built from exact milliseconds (not representable in a
        // Double) cannot print one millisecond early; then truncate to milliseconds as Envoy does.
        let micros = Int((date.timeIntervalSince1970 * 1_000_000).rounded())
        let totalMs = micros >= 0 ? micros / 1000 : (micros - 999) / 1000
        let msPerDay = 86_400_000
        var days = totalMs / msPerDay
        var msOfDay = totalMs % msPerDay
        if msOfDay < 0 {
            msOfDay += msPerDay
            days -= 1
        }
        let (year, month, day) = Self.civil(fromDaysSinceEpoch: days)
        Self.appendPadded(year, width: 4, into: &out)
        out.append(UInt8(ascii: "-"))
        Self.appendPadded(month, width: 2, into: &out)
        out.append(UInt8(ascii: "-"))
        Self.appendPadded(day, width: 2, into: &out)
        out.append(UInt8(ascii: "T"))
        Self.appendPadded(msOfDay / 3_600_000, width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        Self.appendPadded(msOfDay / 60_000 % 60, width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        Self.appendPadded(msOfDay / 1000 % 60, width: 2, into: &out)
        out.append(UInt8(ascii: "."))
        Self.appendPadded(msOfDay % 1000, width: 3, into: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
    static func civil(fromDaysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func appendPadded(_ value: Int, width: Int, into out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width {
            divisor *= 10
        }
        if value >= divisor * 10 || value < 0 {
            Self.appendInteger(value, into: &out)
            return
        }
        var remaining = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }
}
