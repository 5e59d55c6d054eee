/// Status-line and response framing rules (RFC 9112 §4 and §6.3).
extension HTTP1ResponseParser {
    struct ParsedHead {
        var head: HTTP1ResponseHead
        /// The connection becomes a tunnel after this response (101, or 2xx to CONNECT).
        var tunnel: Bool
    }

    /// Parses a complete head, `bytes[0..<length]`, which ends in CRLF CRLF and holds CR only within CRLF.
    static func parseHead(
        _ bytes: UnsafeRawBufferPointer, length: Int, limits: HTTP1Limits, requestKind: RequestKind
    ) -> Result<ParsedHead, HTTP1ParseError> {
        var lineEnd = 0
        while bytes[lineEnd] != HTTP1Byte.cr { lineEnd += 1 }

        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4). A missing SP after the
        // code is tolerated when the reason is empty.
        guard lineEnd >= 12, case .minor(let minor) = HTTP1RequestParser.version(bytes, 0, 8),
            bytes[8] == HTTP1Byte.sp
        else { return .failure(.bad("invalid status line")) }
        let hundreds = bytes[9] &- 0x30
        let tens = bytes[10] &- 0x30
        let units = bytes[11] &- 0x30
        guard hundreds >= 1, hundreds <= 5, tens < 10, units < 10 else {
            return .failure(.bad("invalid status code"))
        }
        let status = Int(hundreds) * 100 + Int(tens) * 10 + Int(units)
        var reason = ""
        if lineEnd > 12 {
            guard bytes[12] == HTTP1Byte.sp else { return .failure(.bad("invalid status line")) }
            var index = 13
            while index < lineEnd {
                guard HTTP1Byte.isFieldValueByte(bytes[index]) else {
                    return .failure(.bad("invalid reason phrase"))
                }
                index += 1
            }
            reason = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[13..<lineEnd]), as: UTF8.self)
        }

        var headers = HTTPHeaderList()
        var summary = HTTP1FieldSummary()
        if let error = HTTP1FieldParser.parse(
            bytes, from: lineEnd + 2, to: length - 2, maxCount: limits.maxHeaderCount, strictUTF8: false,
            headers: &headers, summary: &summary)
        {
            return .failure(error)
        }
        var parsed = ParsedHead(
            head: HTTP1ResponseHead(status: status, reason: reason, minorVersion: minor, headers: headers),
            tunnel: false)
        if let error = Self.applyFraming(summary, requestKind: requestKind, to: &parsed) {
            return .failure(error)
        }
        return .success(parsed)
    }

    /// RFC 9112 §6.3 in order: no body for HEAD, 1xx, 204 and 304; a tunnel after 101 or a 2xx to CONNECT; then
    /// chunked, then Content-Length, else the body runs until close. Conflicting or malformed framing fields are
    /// refused even where they would be ignored, because they show the upstream is confused (HARDENING.md §B8).
    private static func applyFraming(
        _ summary: HTTP1FieldSummary, requestKind: RequestKind, to parsed: inout ParsedHead
    ) -> HTTP1ParseError? {
        let status = parsed.head.status
        let minor = parsed.head.minorVersion
        if summary.transferEncodingLines > 0 {
            guard summary.contentLengthLines == 0 else { return .bad("Content-Length with Transfer-Encoding") }
            guard minor == 1, summary.transferEncodingLines == 1, summary.transferEncodingIsChunked else {
                return .bad("unsupported Transfer-Encoding")
            }
        }
        guard summary.contentLengthLines <= 1 else { return .bad("duplicate Content-Length") }

        let framing: HTTP1BodyFraming
        if status == 101 || (requestKind == .connect && status >= 200 && status < 300) {
            framing = .none
            parsed.tunnel = true
        } else if requestKind == .head || status < 200 || status == 204 || status == 304 {
            framing = .none
        } else if summary.transferEncodingLines > 0 {
            framing = .chunked
        } else if let length = summary.contentLength {
            framing = .contentLength(length)
        } else {
            framing = .untilClose
        }
        parsed.head.framing = framing
        parsed.head.keepAlive =
            !summary.connectionClose && (minor == 1 || summary.connectionKeepAlive)
            && framing != .untilClose && !parsed.tunnel
        return nil
    }
}
