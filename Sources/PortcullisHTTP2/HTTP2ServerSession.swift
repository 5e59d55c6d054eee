internal import CPortcullisNghttp2
import NIOCore

/// The server side of one HTTP/2 connection as a byte-in/byte-out state machine (no channel, no I/O).
///
/// Feed every received byte to `receive(_:)` (the client preface included), act on the events, and write
/// `pendingOutput()` after every call. One instance per connection, used from one event loop only.
///
/// Backpressure: request DATA windows refill only through `consumed(streamID:bytes:)`, so a slow upstream slows
/// the client. Response DATA beyond the client's window waits in the stream's queue; while
/// `bufferedBytes(streamID:)` is non-zero the caller should stop producing and resume on `.windowAvailable`.
/// The caller must also stop reading from the socket while it cannot write (STYLE rule 4), which bounds the ACKs
/// a PING/SETTINGS flood can make us buffer; a client that never opens its window is the caller's to time out.
public final class HTTP2ServerSession {
    private let core: HTTP2SessionCore

    /// Creates the session and frames the server's SETTINGS (available from `pendingOutput()` at once).
    public convenience init(settings: HTTP2Settings = HTTP2Settings()) throws {
        try self.init(settings: settings, now: { NIODeadline.now() })
    }

    /// Creates the session with an injected clock (tests).
    init(settings: HTTP2Settings, now: @escaping () -> NIODeadline) throws {
        self.core = try HTTP2SessionCore(role: .server, settings: settings, now: now)
    }

    /// Feeds received bytes (the client preface included); returns the events parsed. Throws on a connection
    /// error: then `pendingOutput()` holds the GOAWAY to send and the connection must close.
    public func receive(_ bytes: ByteBuffer) throws -> [HTTP2ServerEvent] {
        var events: [HTTP2ServerEvent] = []
        var rejected: Set<Int32> = []
        self.translate(try self.core.receive(bytes), into: &events, rejected: &rejected)
        self.translate(try self.core.finish(), into: &events, rejected: &rejected)
        return events
    }

    /// Sends the response head. Without `endStream` the body follows through `sendData` or `sendTrailers`.
    /// A 1xx `:status` sends an informational head, and the final one follows with another call.
    public func sendResponse(streamID: Int32, headers: [HTTP2Header], endStream: Bool) {
        guard self.core.failure == nil, let session = self.core.session, let state = self.core.streams[streamID],
            !state.hasProvider
        else { return }
        let informational = headers.first { $0.name == ":status" }?.value.hasPrefix("1") ?? false
        let provider = HTTP2SessionCore.makeDataProvider()
        let rv = HTTP2SessionCore.withNameValues(headers) { nameValues, count in
            if informational {
                return nghttp2_submit_headers(
                    session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, nil, nameValues, count, nil)
            }
            if endStream {
                return nghttp2_submit_response(session, streamID, nameValues, count, nil)
            }
            return withUnsafePointer(to: provider) {
                nghttp2_submit_response(session, streamID, nameValues, count, $0)
            }
        }
        if rv == 0 && !endStream && !informational {
            self.core.streams[streamID]?.hasProvider = true
        }
        self.core.flush()
    }

    /// Queues response body bytes; flow control is respected (see the type's documentation).
    public func sendData(streamID: Int32, _ data: ByteBuffer, endStream: Bool) {
        self.core.sendData(streamID: streamID, data, endStream: endStream)
    }

    /// Ends the response with trailers (after any queued data).
    public func sendTrailers(streamID: Int32, _ trailers: [HTTP2Header]) {
        self.core.sendTrailers(streamID: streamID, trailers)
    }

    /// Resets a stream (RST_STREAM); queued data is dropped and no event is reported for it.
    public func resetStream(streamID: Int32, errorCode: UInt32) {
        self.core.resetStream(streamID: streamID, errorCode: errorCode)
    }

    /// The app processed this much request DATA: only then is WINDOW_UPDATE sent. Data of reset or closed
    /// streams is returned to the connection window automatically.
    public func consumed(streamID: Int32, bytes: Int) {
        self.core.consumed(streamID: streamID, bytes: bytes)
    }

    /// Graceful GOAWAY: last stream id = highest processed, in-flight streams finish, new ones are ignored.
    public func goAway(errorCode: UInt32 = HTTP2ErrorCode.noError) {
        self.core.goAway(errorCode: errorCode)
    }

    /// Bytes to write now (nil when nothing).
    public func pendingOutput() -> ByteBuffer? {
        self.core.takeOutput()
    }

    /// Response bytes queued for a stream and waiting for the client's window.
    public func bufferedBytes(streamID: Int32) -> Int {
        self.core.bufferedBytes(streamID: streamID)
    }

    /// Streams whose response data (or its end) waits for the client's flow-control window, with the DATA
    /// bytes framed so far: a count that stops moving means a stalled stream (zero-window stall, CVE-2019-9517).
    public func blockedStreams() -> [(streamID: Int32, framedBytes: Int)] {
        self.core.blockedStreams()
    }

    /// Whether `pendingOutput()` has bytes.
    public var wantsWrite: Bool { self.core.hasOutput }

    /// Streams open (request started and not yet closed both ways or reset).
    public var activeStreamCount: Int { self.core.streams.count }

    /// Whether the connection is done: failed, or GOAWAY exchanged and no stream left, and nothing to write.
    public var isClosed: Bool { self.core.isClosed }

    private func translate(_ raw: [HTTP2CoreEvent], into events: inout [HTTP2ServerEvent], rejected: inout Set<Int32>) {
        for event in raw {
            switch event {
            case .headers(let streamID, let headers, let endStream, .initial):
                if HTTP2HeaderValidation.validateRequest(headers) != nil {
                    rejected.insert(streamID)
                    self.core.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError)
                } else {
                    events.append(.request(streamID: streamID, headers: headers, endStream: endStream))
                }
            case .headers(let streamID, let headers, _, .trailers):
                guard !rejected.contains(streamID) else { continue }
                if HTTP2HeaderValidation.validateTrailers(headers) != nil {
                    rejected.insert(streamID)
                    self.core.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError)
                } else {
                    events.append(.trailers(streamID: streamID, headers))
                }
            case .headers(_, _, _, .informational):
                continue
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
extension HTTP2ServerSession: Sendable {}
