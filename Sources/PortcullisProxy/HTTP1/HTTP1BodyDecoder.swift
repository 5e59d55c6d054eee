import NIOCore

/// Decodes one message body, shared by the request and response parsers (RFC 9112 §6.3 and §7.1).
///
/// Body bytes are handed out as `ByteBuffer` slices of the input, never copied. Chunk-size lines and trailers go
/// through the same line scanner as heads, so the bare-LF/bare-CR policy is identical everywhere (HARDENING.md §B1
/// row 8).
struct HTTP1BodyDecoder {
    enum Output {
        case body(ByteBuffer)
        case end(HTTPHeaderList?)
    }

    private enum State {
        case contentLength(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var state: State
    private var scanner = HTTP1LineScanner()
    private var extensionBytes = 0
    private let limits: HTTP1Limits
    private let strictUTF8: Bool

    init(framing: HTTP1BodyFraming, limits: HTTP1Limits, strictUTF8: Bool) {
        switch framing {
        case .none: self.state = .contentLength(remaining: 0)
        case .contentLength(let length): self.state = .contentLength(remaining: length)
        case .chunked: self.state = .chunkLine
        case .untilClose: self.state = .untilClose
        }
        self.limits = limits
        self.strictUTF8 = strictUTF8
    }

    /// True while the body runs until the connection closes, where a close is the normal end.
    var isUntilClose: Bool {
        if case .untilClose = self.state { return true }
        return false
    }

    /// Returns the next body slice or the end, or nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> Output? {
        while true {
            switch self.state {
            case .contentLength(let remaining):
                if remaining == 0 {
                    self.state = .done
                    return .end(nil)
                }
                guard let slice = Self.slice(&buffer, upTo: remaining) else { return nil }
                self.state = .contentLength(remaining: remaining - slice.readableBytes)
                return .body(slice)
            case .chunkLine:
                guard let size = try self.readChunkLine(&buffer) else { return nil }
                self.state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard let slice = Self.slice(&buffer, upTo: remaining) else { return nil }
                let left = remaining - slice.readableBytes
                self.state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
                return .body(slice)
            case .chunkDataEnd:
                // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 §7.1)
                let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)
                if let first, first != HTTP1Byte.cr { throw .bad("chunk data not followed by CRLF") }
                guard buffer.readableBytes >= 2 else { return nil }
                if buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) != HTTP1Byte.lf {
                    throw .bad("chunk data not followed by CRLF")
                }
                buffer.moveReaderIndex(forwardBy: 2)
                self.state = .chunkLine
            case .trailers:
                guard let trailers = try self.readTrailers(&buffer) else { return nil }
                self.state = .done
                return .end(trailers.count == 0 ? nil : trailers)
            case .untilClose:
                guard let slice = Self.slice(&buffer, upTo: Int.max) else { return nil }
                return .body(slice)
            case .done:
                return nil
            }
        }
    }

    private static func slice(_ buffer: inout ByteBuffer, upTo limit: Int) -> ByteBuffer? {
        let length = min(limit, buffer.readableBytes)
        guard length > 0 else { return nil }
        return buffer.readSlice(length: length)
    }

    /// Reads `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1). The size is 1 to 16 hex digits with no sign or
    /// prefix, so it fits a UInt64 before any shift and cannot overflow (nginx CVE-2013-2028); it must also fit an
    /// Int. Extensions are bounded per line and per message (CVE-2023-39326).
    private mutating func readChunkLine(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> Int? {
        let length: Int
        switch self.scanner.scan(buffer, limit: self.limits.maxChunkLineBytes, untilEmptyLine: false) {
        case .needMore: return nil
        case .bareLF: throw .bad("bare LF in chunk line")
        case .bareCR: throw .bad("bare CR in chunk line")
        case .tooLong: throw .bad("chunk line too long")
        case .found(let found): length = found
        }
        let parsed = buffer.withUnsafeReadableBytes { Self.parseChunkLine($0, end: length - 2) }
        guard let (size, extensionLength) = parsed else { throw .bad("invalid chunk size line") }
        self.extensionBytes += extensionLength
        if self.extensionBytes > self.limits.maxChunkExtensionBytesPerMessage {
            throw .bad("too many chunk extension bytes")
        }
        buffer.moveReaderIndex(forwardBy: length)
        return size
    }

    /// Returns the chunk size and the extension length, or nil if the line is malformed.
    private static func parseChunkLine(_ bytes: UnsafeRawBufferPointer, end: Int) -> (Int, Int)? {
        var size: UInt64 = 0
        var index = 0
        while index < end {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte &- 0x30
            case 0x41...0x46: digit = byte &- 0x41 &+ 10
            case 0x61...0x66: digit = byte &- 0x61 &+ 10
            default: digit = 0xFF
            }
            if digit == 0xFF { break }
            guard index < 16 else { return nil }
            size = size << 4 | UInt64(digit)
            index += 1
        }
        guard index > 0, size <= UInt64(Int.max) else { return nil }
        let digitsEnd = index
        if index < end {
            // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1)
            while index < end && HTTP1Byte.isOWS(bytes[index]) { index += 1 }
            guard index < end, bytes[index] == HTTP1Byte.semicolon else { return nil }
            while index < end {
                guard HTTP1Byte.isFieldValueByte(bytes[index]) else { return nil }
                index += 1
            }
        }
        return (Int(size), end - digitsEnd)
    }

    /// Reads the trailer section (RFC 9112 §7.1.2) with the header rules. Fields that would change framing or
    /// routing (Content-Length, Transfer-Encoding, Host) are refused: RFC 9110 §6.5.1 forbids them in trailers.
    private mutating func readTrailers(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTPHeaderList? {
        let length: Int
        switch self.scanner.scan(buffer, limit: self.limits.maxTrailerBytes, untilEmptyLine: true) {
        case .needMore: return nil
        case .bareLF: throw .bad("bare LF in trailers")
        case .bareCR: throw .bad("bare CR in trailers")
        case .tooLong: throw .tooLarge("trailers too large")
        case .found(let found): length = found
        }
        var trailers = HTTPHeaderList()
        if length > 2 {
            var summary = HTTP1FieldSummary()
            let maxCount = self.limits.maxHeaderCount
            let strict = self.strictUTF8
            let error = buffer.withUnsafeReadableBytes { bytes in
                HTTP1FieldParser.parse(
                    bytes, from: 0, to: length - 2, maxCount: maxCount, strictUTF8: strict,
                    headers: &trailers, summary: &summary)
            }
            if let error { throw error }
            if summary.contentLengthLines + summary.transferEncodingLines + summary.hostLines > 0 {
                throw .bad("framing or Host field in trailers")
            }
        }
        buffer.moveReaderIndex(forwardBy: length)
        return trailers
    }
}
