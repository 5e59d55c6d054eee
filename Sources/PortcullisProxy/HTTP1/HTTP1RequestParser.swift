import NIOCore

/// Strict pull parser for HTTP/1.0 and HTTP/1.1 requests (RFC 9112), hardened per HARDENING.md §B1.
///
/// Call `next(_:)` whenever bytes arrive; it consumes what it has parsed from the buffer and returns nil when it
/// needs more (the unconsumed bytes must stay at the front of the buffer). Each request yields `.head`, zero or more
/// `.body` slices and `.end`; pipelined requests follow in order. A head is only parsed once complete, so the first
/// look at it is bounded by `maxHeaderBytes`. After an error the parser is dead: every call rethrows the error, and
/// the connection must be closed because framing is lost.
public struct HTTP1RequestParser: Sendable {
    private enum State {
        case head
        case body(HTTP1BodyDecoder)
        case failed(HTTP1ParseError)
    }

    private var state: State = .head
    private var scanner = HTTP1LineScanner()
    private let limits: HTTP1Limits

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Between messages: nothing of the next message has been examined yet.
    public var isIdle: Bool {
        if case .head = self.state { return self.scanner.scanned == 0 }
        return false
    }

    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Event<HTTP1RequestHead>? {
        do {
            return try self.step(&buffer)
        } catch {
            self.state = .failed(error)
            throw error
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Event<HTTP1RequestHead>? {
        switch self.state {
        case .failed(let error):
            throw error
        case .head:
            guard let head = try self.readHead(&buffer) else { return nil }
            self.state = .body(HTTP1BodyDecoder(framing: head.framing, limits: self.limits, strictUTF8: true))
            return .head(head)
        case .body(var decoder):
            let output = try decoder.next(&buffer)
            switch output {
            case nil:
                self.state = .body(decoder)
                return nil
            case .body(let slice):
                self.state = .body(decoder)
                return .body(slice)
            case .end(let trailers):
                self.state = .head
                return .end(trailers: trailers)
            }
        }
    }

    private mutating func readHead(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1RequestHead? {
        while true {
            switch self.scanner.scan(buffer, limit: self.limits.maxHeaderBytes, untilEmptyLine: true) {
            case .needMore:
                return nil
            case .bareLF:
                throw .bad("bare LF in request head")
            case .bareCR:
                throw .bad("bare CR in request head")
            case .tooLong:
                throw .tooLarge("request head too large")
            case .found(2):
                // RFC 9112 §2.2: a server SHOULD ignore empty lines received before the request-line.
                buffer.moveReaderIndex(forwardBy: 2)
            case .found(let length):
                let limits = self.limits
                let result = buffer.withUnsafeReadableBytes { Self.parseHead($0, length: length, limits: limits) }
                let head = try result.get()
                buffer.moveReaderIndex(forwardBy: length)
                return head
            }
        }
    }
}

extension HTTP1RequestParser {
    /// Longest method accepted; longer ones get 501 (HARDENING.md §B1 row 16).
    static let maxMethodLength = 64

    /// Parses a complete head, `bytes[0..<length]`, which ends in CRLF CRLF and holds CR only within CRLF.
    static func parseHead(
        _ bytes: UnsafeRawBufferPointer, length: Int, limits: HTTP1Limits
    ) -> Result<HTTP1RequestHead, HTTP1ParseError> {
        var lineEnd = 0
        while bytes[lineEnd] != HTTP1Byte.cr { lineEnd += 1 }

        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), exactly one SP each.
        var index = 0
        var sawLowercase = false
        while index < lineEnd && HTTP1Byte.isTChar(bytes[index]) {
            sawLowercase = sawLowercase || (bytes[index] >= 0x61 && bytes[index] <= 0x7A)
            index += 1
        }
        let methodEnd = index
        guard methodEnd > 0, index < lineEnd, bytes[index] == HTTP1Byte.sp else {
            return .failure(.bad("invalid method"))
        }
        guard !sawLowercase else { return .failure(.bad("method is not upper-case")) }
        guard methodEnd <= Self.maxMethodLength else {
            return .failure(HTTP1ParseError(status: 501, reason: "method too long"))
        }
        index += 1
        let targetStart = index
        while index < lineEnd && HTTP1Byte.isVisibleASCII(bytes[index]) { index += 1 }
        let targetEnd = index
        guard targetEnd > targetStart, index < lineEnd, bytes[index] == HTTP1Byte.sp else {
            return .failure(.bad("invalid request-target"))
        }
        let minor: Int
        switch Self.version(bytes, index + 1, lineEnd) {
        case .minor(let value): minor = value
        case .unsupported: return .failure(HTTP1ParseError(status: 505, reason: "HTTP version not supported"))
        case .invalid: return .failure(.bad("invalid HTTP version"))
        }

        let isConnect = HTTP1Byte.equalsLowercased(bytes, 0, methodEnd, "connect")
        let isOptions = HTTP1Byte.equalsLowercased(bytes, 0, methodEnd, "options")
        guard
            let form = Self.targetForm(
                bytes, targetStart, targetEnd, isConnect: isConnect, isOptions: isOptions)
        else { return .failure(.bad("invalid request-target")) }

        var headers = HTTPHeaderList()
        var summary = HTTP1FieldSummary()
        if let error = HTTP1FieldParser.parse(
            bytes, from: lineEnd + 2, to: length - 2, maxCount: limits.maxHeaderCount, strictUTF8: true,
            headers: &headers, summary: &summary)
        {
            return .failure(error)
        }
        var head = HTTP1RequestHead(
            method: HTTP1Byte.string(bytes, 0, methodEnd), target: HTTP1Byte.string(bytes, targetStart, targetEnd),
            minorVersion: minor, headers: headers, targetForm: form)
        if let error = Self.applySemantics(summary, to: &head) {
            return .failure(error)
        }
        return .success(head)
    }

    /// Framing (RFC 9112 §6), Host (§3.2), connection (§9.3), upgrade and expectation rules, applied once the fields
    /// are known.
    private static func applySemantics(_ summary: HTTP1FieldSummary, to head: inout HTTP1RequestHead)
        -> HTTP1ParseError?
    {
        // Only a single `Transfer-Encoding: chunked` is accepted, never beside Content-Length (RFC 9112 §6.1,
        // §6.3 rule 3; HARDENING.md §B1 rows 1-5 and 13).
        if summary.transferEncodingLines > 0 {
            guard head.minorVersion == 1 else { return .bad("Transfer-Encoding in an HTTP/1.0 request") }
            guard summary.transferEncodingLines == 1, summary.transferEncodingIsChunked else {
                return .bad("unsupported Transfer-Encoding")
            }
            guard summary.contentLengthLines == 0 else { return .bad("Content-Length with Transfer-Encoding") }
            head.framing = .chunked
        } else if summary.contentLengthLines > 0 {
            guard summary.contentLengthLines == 1, let length = summary.contentLength else {
                return .bad("duplicate Content-Length")
            }
            head.framing = .contentLength(length)
        } else {
            head.framing = .none
        }

        guard summary.hostLines <= 1 else { return .bad("duplicate Host") }
        if head.minorVersion == 1 && summary.hostLines == 0 { return .bad("missing Host") }
        if let host = summary.host {
            guard Self.isValidHostField(host) else { return .bad("invalid Host") }
            head.host = host
        }
        if case .absolute(_, let authority) = head.targetForm {
            // RFC 9112 §3.2.2: the target's authority wins and the received Host is ignored.
            head.host = authority
            head.headers.set("Host", authority)
        }

        head.keepAlive =
            !summary.connectionClose && (head.minorVersion == 1 || summary.connectionKeepAlive)
        head.isUpgrade = summary.connectionUpgrade && summary.hasUpgrade
        head.acceptsTrailers = summary.acceptsTrailers
        head.isGRPC = summary.isGRPC

        // RFC 9110 §10.1.1: only 100-continue is defined (else 417); it is ignored in HTTP/1.0 requests.
        if summary.expectLines > 0 {
            if summary.expectOther { return HTTP1ParseError(status: 417, reason: "unsupported expectation") }
            head.expectContinue = head.minorVersion == 1
        }
        return nil
    }
}
