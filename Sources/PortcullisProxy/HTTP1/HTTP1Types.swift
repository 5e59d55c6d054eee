import NIOCore

/// Size and count limits applied while parsing HTTP/1.x messages.
///
/// Defaults follow Envoy's (`max_request_headers_kb` = 60, `max_headers_count` = 100); see HARDENING.md §C.
public struct HTTP1Limits: Sendable {
    /// Request or status line plus all header lines, including CRLFs. Exceeding it yields 431.
    public var maxHeaderBytes: Int = 60 * 1024
    /// Number of header (or trailer) field lines. Exceeding it yields 431.
    public var maxHeaderCount: Int = 100
    /// One chunk-size line including chunk extensions (RFC 9112 §7.1.1). Exceeding it yields 400.
    public var maxChunkLineBytes: Int = 4096
    /// The trailer section of a chunked body (RFC 9112 §7.1.2). Exceeding it yields 431.
    public var maxTrailerBytes: Int = 60 * 1024

    public init() {}

    /// Total chunk-extension bytes allowed in one message: bounds the overhead of many tiny chunks that each carry
    /// a long extension (CVE-2023-39326, HARDENING.md §B1 row 7).
    var maxChunkExtensionBytesPerMessage: Int { self.maxChunkLineBytes * 16 }
}

/// A framing or syntax error; the connection must be closed after it (HARDENING.md §B1 policy).
///
/// `status` is the response a server should send for a request error (400, 413, 417, 431, 501, 505). For response
/// parsing the proxy maps every error to 502.
public struct HTTP1ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "HTTP/1 parse error \(self.status): \(self.reason)" }

    static func bad(_ reason: String) -> HTTP1ParseError { HTTP1ParseError(status: 400, reason: reason) }
    static func tooLarge(_ reason: String) -> HTTP1ParseError { HTTP1ParseError(status: 431, reason: reason) }
}

/// How the body of a message is delimited (RFC 9112 §6.3).
public enum HTTP1BodyFraming: Sendable, Equatable {
    /// No body at all (also HEAD responses, 1xx, 204, 304).
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Response body delimited by the connection closing; never used for requests (RFC 9112 §6.3 rule 8).
    case untilClose
}

/// One parse result. Every message yields `.head`, zero or more `.body` slices, then `.end` (interim 1xx heads are
/// the exception: they are followed directly by the next head).
public enum HTTP1Event<Head: Sendable>: Sendable {
    case head(Head)
    /// A zero-copy slice of the input buffer.
    case body(ByteBuffer)
    /// End of the message; trailers only for a chunked body that carried a non-empty trailer section.
    case end(trailers: HTTPHeaderList?)
}
