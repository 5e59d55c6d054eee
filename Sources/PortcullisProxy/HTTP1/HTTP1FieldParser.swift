/// What the field lines said about framing and the connection, gathered while parsing so that no second pass over
/// the header list (and no String comparison) is needed.
struct HTTP1FieldSummary {
    var contentLength: Int?
    var contentLengthLines = 0
    var transferEncodingLines = 0
    /// True while every Transfer-Encoding line was exactly `chunked` (RFC 9112 §6.1, HARDENING.md §B1 row 3).
    var transferEncodingIsChunked = true
    var hostLines = 0
    var host: String?
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var hasUpgrade = false
    var expectLines = 0
    var expectOther = false
    /// A `te` line lists `trailers`.
    var acceptsTrailers = false
    /// `content-type` is gRPC (`application/grpc...`).
    var isGRPC = false
}

/// Parses a block of field lines (RFC 9112 §5) for heads and trailers.
///
/// The block is `bytes[start..<end]`, a run of lines each ending in CRLF; the line scanner has already guaranteed
/// that CR occurs only as part of CRLF. Field names are tchar tokens with nothing between name and colon (§5.1,
/// GO-2022-0212); a line starting with whitespace is obs-fold and rejected (§5.2, CVE-2022-32215); values lose
/// surrounding OWS (§5.5, CVE-2019-18802) and may not hold controls other than HTAB, nor NUL or DEL
/// (CVE-2019-9900).
enum HTTP1FieldParser {
    /// - Parameter strictUTF8: reject values that are not valid UTF-8 (requests); otherwise repair them (responses,
    ///   where legacy Latin-1 values are not a framing risk).
    static func parse(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, maxCount: Int, strictUTF8: Bool,
        headers: inout HTTPHeaderList, summary: inout HTTP1FieldSummary
    ) -> HTTP1ParseError? {
        var lineStart = start
        while lineStart < end {
            var lineEnd = lineStart
            while bytes[lineEnd] != HTTP1Byte.cr { lineEnd += 1 }
            if headers.count >= maxCount {
                return .tooLarge("too many header fields")
            }
            if let error = Self.parseLine(
                bytes, lineStart, lineEnd, strictUTF8: strictUTF8, headers: &headers, summary: &summary)
            {
                return error
            }
            lineStart = lineEnd + 2
        }
        return nil
    }

    private static func parseLine(
        _ bytes: UnsafeRawBufferPointer, _ lineStart: Int, _ lineEnd: Int, strictUTF8: Bool,
        headers: inout HTTPHeaderList, summary: inout HTTP1FieldSummary
    ) -> HTTP1ParseError? {
        var index = lineStart
        while index < lineEnd && HTTP1Byte.isTChar(bytes[index]) { index += 1 }
        let nameEnd = index
        if nameEnd == lineStart {
            if index < lineEnd && HTTP1Byte.isOWS(bytes[index]) { return .bad("obs-fold or leading whitespace") }
            return .bad("empty header name")
        }
        guard index < lineEnd, bytes[index] == HTTP1Byte.colon else {
            return .bad("invalid header name")
        }
        index += 1
        let rawValueStart = index
        while index < lineEnd && HTTP1Byte.isOWS(bytes[index]) { index += 1 }
        let valueStart = index
        var valueEnd = lineEnd
        while valueEnd > valueStart && HTTP1Byte.isOWS(bytes[valueEnd - 1]) { valueEnd -= 1 }
        var high: UInt8 = 0
        index = valueStart
        while index < valueEnd {
            let byte = bytes[index]
            if !HTTP1Byte.isFieldValueByte(byte) { return .bad("invalid character in header value") }
            high |= byte
            index += 1
        }

        let name = HTTP1Byte.string(bytes, lineStart, nameEnd)
        let valueBytes = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
        let value: String
        if high & 0x80 == 0 || !strictUTF8 {
            value = String(decoding: valueBytes, as: UTF8.self)
        } else if let decoded = String(validating: valueBytes, as: UTF8.self) {
            value = decoded
        } else {
            return .bad("header value is not UTF-8")
        }
        headers.add(name, value)

        return Self.summarize(
            bytes, nameStart: lineStart, nameEnd: nameEnd, rawValue: rawValueStart..<lineEnd,
            valueStart: valueStart, valueEnd: valueEnd, value: value, summary: &summary)
    }

    /// Records the fields that decide framing, routing and connection handling.
    private static func summarize(
        _ bytes: UnsafeRawBufferPointer, nameStart: Int, nameEnd: Int, rawValue: Range<Int>, valueStart: Int,
        valueEnd: Int, value: String, summary: inout HTTP1FieldSummary
    ) -> HTTP1ParseError? {
        switch nameEnd - nameStart {
        case 2 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "te"):
            if DownstreamRequestHead.hasTrailersToken(value) { summary.acceptsTrailers = true }
        case 12 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "content-type"):
            summary.isGRPC = GRPCSupport.isGRPC(contentType: value)
        case 4 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "host"):
            summary.hostLines += 1
            summary.host = value
        case 6 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "expect"):
            summary.expectLines += 1
            if !HTTP1Byte.equalsLowercased(bytes, valueStart, valueEnd, "100-continue") {
                summary.expectOther = true
            }
        case 7 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "upgrade"):
            summary.hasUpgrade = summary.hasUpgrade || valueEnd > valueStart
        case 10 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "connection"):
            Self.connectionTokens(bytes, valueStart, valueEnd, summary: &summary)
        case 14 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "content-length"):
            summary.contentLengthLines += 1
            guard let length = Self.contentLength(bytes, valueStart, valueEnd) else {
                return .bad("invalid Content-Length")
            }
            summary.contentLength = length
        case 17 where HTTP1Byte.equalsLowercased(bytes, nameStart, nameEnd, "transfer-encoding"):
            summary.transferEncodingLines += 1
            // A tab anywhere is refused rather than trimmed: other parsers disagree about it (sozu#726).
            for index in rawValue {
                if bytes[index] == HTTP1Byte.htab { summary.transferEncodingIsChunked = false }
            }
            if !HTTP1Byte.equalsLowercased(bytes, valueStart, valueEnd, "chunked") {
                summary.transferEncodingIsChunked = false
            }
        default:
            break
        }
        return nil
    }

    /// Content-Length = 1*DIGIT (RFC 9110 §8.6), at most 18 digits so it cannot overflow an Int. Signs, hex, lists
    /// and inner spaces are rejected (HARDENING.md §B1 rows 4 and 5).
    private static func contentLength(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        guard end > start, end - start <= 18 else { return nil }
        var length = 0
        var index = start
        while index < end {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            length = length * 10 + Int(digit)
            index += 1
        }
        return length
    }

    /// Splits `Connection` into its comma-separated tokens (RFC 9110 §7.6.1) and notes the ones we act on.
    private static func connectionTokens(
        _ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, summary: inout HTTP1FieldSummary
    ) {
        var tokenStart = start
        while tokenStart <= end {
            var tokenEnd = tokenStart
            while tokenEnd < end && bytes[tokenEnd] != HTTP1Byte.comma { tokenEnd += 1 }
            var first = tokenStart
            var last = tokenEnd
            while first < last && HTTP1Byte.isOWS(bytes[first]) { first += 1 }
            while last > first && HTTP1Byte.isOWS(bytes[last - 1]) { last -= 1 }
            if HTTP1Byte.equalsLowercased(bytes, first, last, "close") {
                summary.connectionClose = true
            } else if HTTP1Byte.equalsLowercased(bytes, first, last, "keep-alive") {
                summary.connectionKeepAlive = true
            } else if HTTP1Byte.equalsLowercased(bytes, first, last, "upgrade") {
                summary.connectionUpgrade = true
            }
            tokenStart = tokenEnd + 1
        }
    }
}
