import NIOCore

/// Byte constants and character classes of RFC 9110 §5.6.2 (tchar) and RFC 3986 §3.2.2 (host), as bit masks so
/// that a class test is two shifts and no memory load.
enum HTTP1Byte {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTChar(_ byte: UInt8) -> Bool {
        Self.inMask(byte, low: 0x03FF_6CFA_0000_0000, high: 0x57FF_FFFF_C7FF_FFFE)
    }

    /// Bytes allowed in a Host value or authority: unreserved, pct-encoded, sub-delims, ":" and the IP-literal
    /// brackets. "@", "/", "?", "#", whitespace and controls are excluded (RFC 3986 §3.2, RFC 9112 §3.2).
    @inline(__always)
    static func isHostChar(_ byte: UInt8) -> Bool {
        Self.inMask(byte, low: 0x2FFF_7FF2_0000_0000, high: 0x47FF_FFFE_AFFF_FFFE)
    }

    /// field-vchar / SP / HTAB (RFC 9110 §5.5): everything but controls and DEL; obs-text is allowed.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == Self.htab
    }

    @inline(__always)
    static func isVisibleASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    @inline(__always)
    static func isOWS(_ byte: UInt8) -> Bool {
        byte == Self.sp || byte == Self.htab
    }

    @inline(__always)
    private static func inMask(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
        if byte < 64 { return (low >> UInt64(byte)) & 1 == 1 }
        if byte < 128 { return (high >> UInt64(byte &- 64)) & 1 == 1 }
        return false
    }

    /// ASCII case-insensitive comparison of `bytes[start..<end]` with a lower-case literal.
    @inline(__always)
    static func equalsLowercased(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ literal: StaticString
    ) -> Bool {
        guard end - start == literal.utf8CodeUnitCount else { return false }
        let lit = literal.utf8Start
        var index = 0
        while index < end - start {
            let byte = bytes[start + index]
            let folded = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
            if folded != lit[index] { return false }
            index += 1
        }
        return true
    }

    /// Decodes an ASCII-validated byte range.
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}

/// Incremental search for the end of a line, or of a block of lines ended by an empty line, that remembers how far
/// it has looked: a head arriving one byte at a time is scanned in linear time, not quadratic.
///
/// It enforces the line-terminator policy of HARDENING.md §B1 row 8 for every place it is used (start-line, fields,
/// chunk lines, trailers): every LF must follow a CR (bare LF is rejected, RFC 9112 §2.2 allows that) and every CR
/// must be followed by LF (bare CR is rejected, RFC 9112 §2.2).
struct HTTP1LineScanner {
    enum Outcome {
        case needMore
        /// Length of the line or block including its final CRLF.
        case found(Int)
        case bareLF
        case bareCR
        case tooLong
    }

    /// Bytes from the reader index already examined.
    private(set) var scanned = 0
    private var lineStart = 0

    mutating func reset() {
        self.scanned = 0
        self.lineStart = 0
    }

    /// Looks for the end of the first line (`untilEmptyLine == false`) or of the first empty line. The result is
    /// never longer than `limit`; if `limit` bytes hold no terminator the outcome is `.tooLong`.
    mutating func scan(_ buffer: ByteBuffer, limit: Int, untilEmptyLine: Bool) -> Outcome {
        // Step back one byte so that a CR which ended the previous input is checked against its successor.
        let start = max(self.scanned - 1, 0)
        var lineStart = self.lineStart
        var scannedTo = 0
        let code: Int = buffer.withUnsafeReadableBytes { bytes in
            let count = bytes.count
            let end = min(count, limit)
            var index = start
            while index < end {
                let byte = bytes[index]
                if byte == HTTP1Byte.lf {
                    if index == 0 || bytes[index - 1] != HTTP1Byte.cr { return -2 }
                    if !untilEmptyLine || index - 1 == lineStart { return index + 1 }
                    lineStart = index + 1
                } else if byte == HTTP1Byte.cr {
                    if index + 1 < count && bytes[index + 1] != HTTP1Byte.lf { return -3 }
                }
                index += 1
            }
            scannedTo = end
            return count >= limit ? -4 : -1
        }
        switch code {
        case -1:
            self.scanned = scannedTo
            self.lineStart = lineStart
            return .needMore
        case -2: return .bareLF
        case -3: return .bareCR
        case -4: return .tooLong
        default:
            self.reset()
            return .found(code)
        }
    }
}
