import NIOCore

/// What a server session parsed from the client's bytes.
public enum HTTP2ServerEvent: Sendable {
    /// A request head that passed RFC 9113 §8.3 validation. Invalid ones never surface here: the session resets
    /// the stream with PROTOCOL_ERROR and reports `streamReset` instead.
    case request(streamID: Int32, headers: [HTTP2Header], endStream: Bool)
    /// Request body bytes; pass their count to `consumed(streamID:bytes:)` once processed.
    case data(streamID: Int32, ByteBuffer, endStream: Bool)
    /// Request trailers; they end the request stream.
    case trailers(streamID: Int32, [HTTP2Header])
    /// The stream ended abnormally (peer RST_STREAM, refused, or reset by the session for a protocol error).
    case streamReset(streamID: Int32, errorCode: UInt32)
    /// The client sent GOAWAY.
    case goAway(lastStreamID: Int32, errorCode: UInt32)
    /// All data queued for this stream fitted into the peer's window again; resume producing.
    case windowAvailable(streamID: Int32)
}

/// What a client session parsed from the server's bytes.
public enum HTTP2ClientEvent: Sendable {
    /// The final (non-1xx) response head.
    case response(streamID: Int32, headers: [HTTP2Header], endStream: Bool)
    /// An informational (1xx) response head before the final one, e.g. `100` to `expect: 100-continue`.
    case informational(streamID: Int32, headers: [HTTP2Header])
    /// Response body bytes; pass their count to `consumed(streamID:bytes:)` once processed.
    case data(streamID: Int32, ByteBuffer, endStream: Bool)
    /// Response trailers (gRPC status lives here); they end the response stream.
    case trailers(streamID: Int32, [HTTP2Header])
    /// The stream ended abnormally (RST_STREAM from the server, REFUSED_STREAM, or a local protocol error).
    case streamReset(streamID: Int32, errorCode: UInt32)
    /// The server sent GOAWAY: streams above `lastStreamID` were not processed and are safe to retry.
    case goAway(lastStreamID: Int32, errorCode: UInt32)
    /// All data queued for this stream fitted into the peer's window again; resume producing.
    case windowAvailable(streamID: Int32)
}
