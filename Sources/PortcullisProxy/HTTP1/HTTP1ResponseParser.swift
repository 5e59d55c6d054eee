import NIOCore

/// Pull parser for HTTP/1.0 and HTTP/1.1 responses from upstreams (RFC 9112 §4 and §6.3), hardened per
/// HARDENING.md §B8.
///
/// It is a little more tolerant than the request parser (any reason phrase, header values that are not UTF-8 are
/// repaired rather than refused), but it rejects every framing ambiguity: Content-Length with Transfer-Encoding,
/// duplicate or malformed Content-Length, bad chunking, CR/LF/NUL in values and obs-fold.
///
/// Events: interim 1xx heads (except 101) are returned as `.head` and parsing continues with the next head. Every
/// final head is followed by zero or more `.body` slices and `.end`. After a 101, or a 2xx answer to CONNECT, the
/// parser returns `.head` then `.end` and then stops: `next` returns nil without consuming anything, and the caller
/// tunnels the remaining bytes.
public struct HTTP1ResponseParser: Sendable {
    private enum State {
        case head
        case body(HTTP1BodyDecoder, thenTunnel: Bool)
        case tunnel
        case closed
        case failed(HTTP1ParseError)
    }

    enum RequestKind {
        case normal
        case head
        case connect
    }

    /// Interim responses accepted before a final one (HARDENING.md §B8 row 6, envoyproxy/envoy#2563).
    static let maxInterimResponses = 16

    private var state: State = .head
    private var scanner = HTTP1LineScanner()
    private var requestKind: RequestKind = .normal
    private var interimCount = 0
    private let limits: HTTP1Limits

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Must be called before each response with the request method: HEAD responses have no body and a 2xx answer
    /// to CONNECT starts a tunnel (RFC 9112 §6.3 rules 1 and 2).
    public mutating func expectResponse(toMethod method: String) {
        switch method {
        case "HEAD": self.requestKind = .head
        case "CONNECT": self.requestKind = .connect
        default: self.requestKind = .normal
        }
    }

    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Event<HTTP1ResponseHead>? {
        do {
            return try self.step(&buffer)
        } catch {
            self.state = .failed(error)
            throw error
        }
    }

    /// The upstream closed its side: ends a close-delimited body, or reports a truncated message.
    public mutating func connectionClosed() throws(HTTP1ParseError) -> HTTP1Event<HTTP1ResponseHead>? {
        switch self.state {
        case .failed(let error):
            throw error
        case .tunnel, .closed:
            return nil
        case .head:
            self.state = .closed
            if self.scanner.scanned > 0 || self.interimCount > 0 {
                self.state = .failed(.bad("connection closed inside a response head"))
                throw .bad("connection closed inside a response head")
            }
            return nil
        case .body(let decoder, _):
            guard decoder.isUntilClose else {
                self.state = .failed(.bad("connection closed inside a response body"))
                throw .bad("connection closed inside a response body")
            }
            self.state = .closed
            return .end(trailers: nil)
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer) throws(HTTP1ParseError) -> HTTP1Event<HTTP1ResponseHead>? {
        switch self.state {
        case .failed(let error):
            throw error
        case .tunnel, .closed:
            return nil
        case .head:
            guard let (head, tunnel) = try self.readHead(&buffer) else { return nil }
            if head.status < 200 && head.status != 101 {
                self.interimCount += 1
                if self.interimCount > Self.maxInterimResponses { throw .bad("too many interim responses") }
                return .head(head)
            }
            let decoder = HTTP1BodyDecoder(framing: head.framing, limits: self.limits, strictUTF8: false)
            self.state = .body(decoder, thenTunnel: tunnel)
            return .head(head)
        case .body(var decoder, let tunnel):
            let output = try decoder.next(&buffer)
            switch output {
            case nil:
                self.state = .body(decoder, thenTunnel: tunnel)
                return nil
            case .body(let slice):
                self.state = .body(decoder, thenTunnel: tunnel)
                return .body(slice)
            case .end(let trailers):
                self.state = tunnel ? .tunnel : .head
                self.requestKind = .normal
                self.interimCount = 0
                return .end(trailers: trailers)
            }
        }
    }

    private mutating func readHead(
        _ buffer: inout ByteBuffer
    ) throws(HTTP1ParseError) -> (HTTP1ResponseHead, Bool)? {
        while true {
            switch self.scanner.scan(buffer, limit: self.limits.maxHeaderBytes, untilEmptyLine: true) {
            case .needMore:
                return nil
            case .bareLF:
                throw .bad("bare LF in response head")
            case .bareCR:
                throw .bad("bare CR in response head")
            case .tooLong:
                throw .tooLarge("response head too large")
            case .found(2):
                // Tolerate empty lines before the status line, as for requests (RFC 9112 §2.2).
                buffer.moveReaderIndex(forwardBy: 2)
            case .found(let length):
                let limits = self.limits
                let kind = self.requestKind
                let result = buffer.withUnsafeReadableBytes { bytes in
                    Self.parseHead(bytes, length: length, limits: limits, requestKind: kind)
                }
                let parsed = try result.get()
                buffer.moveReaderIndex(forwardBy: length)
                return (parsed.head, parsed.tunnel)
            }
        }
    }
}
