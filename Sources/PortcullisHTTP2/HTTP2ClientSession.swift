internal import CPortcullisNghttp2
import NIOCore

/// The client side of one upstream HTTP/2 connection as a byte-in/byte-out state machine, the mirror image of
/// `HTTP2ServerSession`: start requests, feed the server's bytes to `receive(_:)`, write `pendingOutput()`.
///
/// Response DATA windows refill only through `consumed(streamID:bytes:)`, so a slow downstream slows the
/// upstream. One instance per connection, used from one event loop only.
public final class HTTP2ClientSession {
    private let core: HTTP2SessionCore

    /// Creates the session and frames the connection preface and SETTINGS (available from `pendingOutput()`).
    public convenience init(settings: HTTP2Settings = HTTP2Settings()) throws {
        try self.init(settings: settings, now: { NIODeadline.now() })
    }

    /// Creates the session with an injected clock (tests).
    init(settings: HTTP2Settings, now: @escaping () -> NIODeadline) throws {
        self.core = try HTTP2SessionCore(role: .client, settings: settings, now: now)
    }

    /// Starts a request and returns its stream id. Without `endStream` the body follows through `sendData` or
    /// `sendTrailers`. Throws `streamLimitReached` at the server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until
    /// the server's SETTINGS arrive) and `goingAway` after a GOAWAY either way.
    public func startRequest(headers: [HTTP2Header], endStream: Bool) throws -> Int32 {
        if let failure = self.core.failure { throw failure }
        guard let session = self.core.session else { throw HTTP2SessionError.sessionClosed }
        guard !self.core.goAwayReceived, !self.core.goAwaySent else { throw HTTP2SessionError.goingAway }
        let limit = nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
        guard UInt32(self.core.streams.count) < limit else { throw HTTP2SessionError.streamLimitReached }
        let provider = HTTP2SessionCore.makeDataProvider()
        let streamID = HTTP2SessionCore.withNameValues(headers) { nameValues, count in
            if endStream {
                return nghttp2_submit_request(session, nil, nameValues, count, nil, nil)
            }
            return withUnsafePointer(to: provider) {
                nghttp2_submit_request(session, nil, nameValues, count, $0, nil)
            }
        }
        guard streamID > 0 else { throw HTTP2SessionError.library(streamID) }
        var state = HTTP2StreamState(openedAt: self.core.abuse.timestamp())
        state.hasProvider = !endStream
        self.core.streams[streamID] = state
        self.core.flush()
        return streamID
    }

    /// Feeds received bytes; returns the events parsed. Throws on a connection error: then `pendingOutput()`
    /// holds the GOAWAY to send and the connection must close.
    public func receive(_ bytes: ByteBuffer) throws -> [HTTP2ClientEvent] {
        var events: [HTTP2ClientEvent] = []
        var rejected: Set<Int32> = []
        self.translate(try self.core.receive(bytes), into: &events, rejected: &rejected)
        self.translate(try self.core.finish(), into: &events, rejected: &rejected)
        return events
    }

    /// Queues request body bytes; data beyond the server's window waits (see `bufferedBytes(streamID:)`).
    public func sendData(streamID: Int32, _ data: ByteBuffer, endStream: Bool) {
        self.core.sendData(streamID: streamID, data, endStream: endStream)
    }

    /// Ends the request with trailers (after any queued data).
    public func sendTrailers(streamID: Int32, _ trailers: [HTTP2Header]) {
        self.core.sendTrailers(streamID: streamID, trailers)
    }

    /// Resets a stream (RST_STREAM); queued data is dropped and no event is reported for it.
    public func resetStream(streamID: Int32, errorCode: UInt32) {
        self.core.resetStream(streamID: streamID, errorCode: errorCode)
    }

    /// The app processed this much response DATA: only then is WINDOW_UPDATE sent.
    public func consumed(streamID: Int32, bytes: Int) {
        self.core.consumed(streamID: streamID, bytes: bytes)
    }

    /// Sends GOAWAY; streams already started finish, and `startRequest` throws from now on.
    public func goAway(errorCode: UInt32 = HTTP2ErrorCode.noError) {
        self.core.goAway(errorCode: errorCode)
    }

    /// Bytes to write now (nil when nothing).
    public func pendingOutput() -> ByteBuffer? {
        self.core.takeOutput()
    }

    /// Request bytes queued for a stream and waiting for the server's window.
    public func bufferedBytes(streamID: Int32) -> Int {
        self.core.bufferedBytes(streamID: streamID)
    }

    /// Whether `pendingOutput()` has bytes.
    public var wantsWrite: Bool { self.core.hasOutput }

    /// Streams started and not yet closed.
    public var activeStreamCount: Int { self.core.streams.count }

    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive).
    public var peerMaxConcurrentStreams: Int {
        guard let session = self.core.session else { return 0 }
        return Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    /// Whether either side sent GOAWAY (no new stream may start).
    public var isGoingAway: Bool { self.core.goAwayReceived || self.core.goAwaySent }

    /// Whether the connection is done: failed, or GOAWAY exchanged and no stream left, and nothing to write.
    public var isClosed: Bool { self.core.isClosed }

    private func translate(_ raw: [HTTP2CoreEvent], into events: inout [HTTP2ClientEvent], rejected: inout Set<Int32>) {
        for event in raw {
            switch event {
            case .headers(let streamID, let headers, let endStream, .initial):
                if HTTP2HeaderValidation.validateResponse(headers) != nil {
                    rejected.insert(streamID)
                    self.core.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError)
                } else {
                    events.append(.response(streamID: streamID, headers: headers, endStream: endStream))
                }
            case .headers(let streamID, let headers, _, .trailers):
                guard !rejected.contains(streamID) else { continue }
                if HTTP2HeaderValidation.validateTrailers(headers) != nil {
                    rejected.insert(streamID)
                    self.core.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError)
                } else {
                    events.append(.trailers(streamID: streamID, headers))
                }
            case .headers(let streamID, let headers, _, .informational):
                guard !rejected.contains(streamID) else { continue }
                if HTTP2HeaderValidation.validateResponse(headers) != nil {
                    rejected.insert(streamID)
                    self.core.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError)
                } else {
                    events.append(.informational(streamID: streamID, headers: headers))
                }
            case .data(let streamID, let buffer, let endStream):
                guard !rejected.contains(streamID) else { continue }
                events.append(.data(streamID: streamID, buffer, endStream: endStream))
            case .streamReset(let streamID, let errorCode):
                events.append(.streamReset(streamID: streamID, errorCode: errorCode))
            case .goAway(let lastStreamID, let errorCode):
                events.append(.goAway(lastStreamID: lastStreamID, errorCode: errorCode))
            case .windowAvailable(let streamID):
                events.append(.windowAvailable(streamID: streamID))
            }
        }
    }
}

@available(*, unavailable)
extension HTTP2ClientSession: Sendable {}
