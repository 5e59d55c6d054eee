internal import CPortcullisNghttp2
import NIOCore

/// What the core reports to the server and client wrappers, before role-specific validation.
enum HTTP2CoreEvent {
    /// Which header block of a stream this is.
    enum HeadersKind {
        /// The request head (server) or the final response head (client).
        case initial
        /// A 1xx response head (client only).
        case informational
        /// Trailers after the body.
        case trailers
    }

    case headers(streamID: Int32, [HTTP2Header], endStream: Bool, kind: HeadersKind)
    case data(streamID: Int32, ByteBuffer, endStream: Bool)
    case streamReset(streamID: Int32, errorCode: UInt32)
    case goAway(lastStreamID: Int32, errorCode: UInt32)
    case windowAvailable(streamID: Int32)
}

/// Per-stream bookkeeping shared by both roles.
struct HTTP2StreamState {
    /// When the stream opened, for the premature-reset rule.
    var openedAt: NIODeadline
    /// The header block being decoded.
    var block: [HTTP2Header] = []
    /// Decoded bytes of the current block (name + value + 32 per field).
    var blockBytes = 0
    /// The current block broke the size or count limit; the stream is reset when the block ends.
    var blockTooLarge = false
    /// The request head or final response head was delivered; later blocks are trailers.
    var initialHeadersSeen = false
    /// DATA bytes delivered to the app and not yet passed to `consumed`.
    var unconsumed = 0
    /// Outbound body bytes waiting for the data provider.
    var outbound = CircularBuffer<ByteBuffer>()
    /// Sum of `outbound`'s readable bytes.
    var outboundBytes = 0
    /// Body bytes framed into DATA so far (progress of a stream waiting for window).
    var framedBytes = 0
    /// A data provider is attached, so DATA may follow the head.
    var hasProvider = false
    /// The provider returned NGHTTP2_ERR_DEFERRED and needs `nghttp2_session_resume_data`.
    var providerDeferred = false
    /// The app ended the body (`endStream` or trailers).
    var endQueued = false
    /// Trailers to submit once the provider hits EOF.
    var trailers: [HTTP2Header]?
    /// Data stayed queued after the last flush: report `windowAvailable` once it drains.
    var blocked = false
    /// The app (or validation) reset the stream, so its close is not reported again.
    var resetByUs = false
}

/// Owns one `nghttp2_session` and turns bytes into events and calls into bytes. Role-neutral: the server and
/// client wrappers add validation and their public event types.
///
/// Re-entrancy (STYLE rule 6): callbacks only record events, stream state and `deferred` work; everything that
/// calls back into nghttp2 (consume, trailers, resets) runs in `runDeferred()` after nghttp2 returned.
/// Output is framed eagerly at the end of every call (`flush()`), so DATA never exceeds the peer's windows and
/// what is waiting for window stays in the per-stream queues.
final class HTTP2SessionCore {
    /// Which side of the connection this session is.
    enum Role {
        case server
        case client
    }

    /// Work queued by callbacks, done once nghttp2 is off the stack.
    enum Deferred {
        /// Return `bytes` of receive window for a stream the app will never consume (dropped or closed).
        case consume(streamID: Int32, bytes: Int)
        /// Submit the stream's queued trailers (its provider just sent EOF without END_STREAM).
        case submitTrailers(streamID: Int32)
        /// Reset a stream whose header block was too large.
        case reject(streamID: Int32, errorCode: UInt32)
    }

    let role: Role
    let settings: HTTP2Settings
    var session: OpaquePointer?
    var streams: [Int32: HTTP2StreamState] = [:]
    var events: [HTTP2CoreEvent] = []
    var deferred: [Deferred] = []
    var abuse: HTTP2AbuseGuard
    /// Set by a callback that wants the connection closed; acted on after nghttp2 returns.
    var pendingFatal: (code: UInt32, reason: String)?
    /// The error every later call reports once the connection failed.
    var failure: HTTP2SessionError?
    /// A GOAWAY with an error that nghttp2 itself sent (a protocol error it detected).
    var libraryGoAway: (code: UInt32, reason: String)?
    /// The app asked for GOAWAY, or one was received: no new streams.
    var goAwaySent = false
    var goAwayReceived = false
    /// GOAWAY frames framed so far, whoever asked for them.
    var goAwayFramesSent = 0
    private var output: ByteBuffer?
    private let allocator = ByteBufferAllocator()

    /// Creates the nghttp2 session, queues the initial SETTINGS (and the client preface) and frames them.
    init(role: Role, settings: HTTP2Settings, now: @escaping () -> NIODeadline = { NIODeadline.now() }) throws {
        try settings.validate()
        self.role = role
        self.settings = settings
        self.abuse = HTTP2AbuseGuard(settings: settings, now: now)

        var options: OpaquePointer?
        guard nghttp2_option_new(&options) == 0, let options else { throw HTTP2SessionError.library(-901) }
        defer { nghttp2_option_del(options) }
        // Receive windows refill only when the app says it consumed the data (backpressure).
        nghttp2_option_set_no_auto_window_update(options, 1)
        nghttp2_option_set_max_continuations(options, settings.maxContinuationFrames)
        nghttp2_option_set_max_outbound_ack(options, settings.maxOutboundControlFrames)
        nghttp2_option_set_max_settings(options, settings.maxSettingsEntries)
        nghttp2_option_set_stream_reset_rate_limit(
            options, UInt64(settings.resetRateBurst), UInt64(settings.resetRatePerSecond))
        // Closed streams are not kept for the RFC 7540 priority tree (O(1) memory per closed stream).
        nghttp2_option_set_no_closed_streams(options, 1)

        let callbacks = try Self.makeCallbacks()
        defer { nghttp2_session_callbacks_del(callbacks) }
        let userData = Unmanaged.passUnretained(self).toOpaque()
        var session: OpaquePointer?
        let rv: Int32
        switch role {
        case .server: rv = nghttp2_session_server_new2(&session, callbacks, userData, options)
        case .client: rv = nghttp2_session_client_new2(&session, callbacks, userData, options)
        }
        guard rv == 0, let session else { throw HTTP2SessionError.library(rv) }
        self.session = session

        var entries = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: UInt32(settings.maxConcurrentStreams)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: UInt32(settings.initialWindowSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: UInt32(settings.maxFrameSize)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                value: UInt32(settings.maxHeaderListSize)),
        ]
        if role == .client {
            entries.append(
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        var status = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), entries, entries.count)
        guard status == 0 else { throw HTTP2SessionError.library(status) }
        status = nghttp2_session_set_local_window_size(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(settings.connectionWindowSize))
        guard status == 0 else { throw HTTP2SessionError.library(status) }
        self.flush()
    }

    deinit {
        if let session = self.session {
            nghttp2_session_del(session)
        }
    }

    // MARK: - Input

    /// Feeds bytes to nghttp2 and returns the events its callbacks recorded. Throws (after framing a GOAWAY)
    /// when the bytes caused a connection error.
    func receive(_ bytes: ByteBuffer) throws -> [HTTP2CoreEvent] {
        if let failure = self.failure { throw failure }
        guard let session = self.session else { throw HTTP2SessionError.sessionClosed }
        let rv = bytes.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        self.runDeferred()
        if let fatal = self.pendingFatal {
            try self.fail(code: fatal.code, reason: fatal.reason)
        }
        if rv < 0 {
            let code = Int32(rv)
            let errorCode = code == NGHTTP2_ERR_FLOODED.rawValue || code == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue
                ? HTTP2ErrorCode.enhanceYourCalm : HTTP2ErrorCode.protocolError
            try self.fail(code: errorCode, reason: String(cString: nghttp2_strerror(code)))
        }
        return self.takeEvents()
    }

    /// Frames everything nghttp2 may send now, then reports streams whose queued data fully drained and
    /// throws if nghttp2 sent a GOAWAY for a protocol error it detected.
    func finish() throws -> [HTTP2CoreEvent] {
        self.flush()
        if let fatal = self.pendingFatal {
            try self.fail(code: fatal.code, reason: fatal.reason)
        }
        if let goAway = self.libraryGoAway, self.failure == nil {
            self.failure = .connectionError(errorCode: goAway.code, reason: goAway.reason)
            throw self.failure!
        }
        return self.takeEvents()
    }

    /// Hands out the events recorded so far.
    func takeEvents() -> [HTTP2CoreEvent] {
        let events = self.events
        self.events.removeAll(keepingCapacity: true)
        return events
    }

    // MARK: - Output

    /// The framed bytes not yet handed out.
    func takeOutput() -> ByteBuffer? {
        guard let output = self.output, output.readableBytes > 0 else { return nil }
        self.output = nil
        return output
    }

    /// Whether framed bytes are waiting for `takeOutput()`.
    var hasOutput: Bool {
        (self.output?.readableBytes ?? 0) > 0
    }

    /// Whether the connection is finished: failed, or nghttp2 wants neither to read nor to write.
    var isClosed: Bool {
        guard let session = self.session, self.failure == nil else { return !self.hasOutput }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
            && !self.hasOutput
    }

    /// Runs nghttp2's sender until it has nothing more, doing deferred work between frames, then marks
    /// streams blocked on flow control and reports the ones that drained.
    func flush() {
        guard let session = self.session else { return }
        while true {
            self.runDeferred()
            var pointer: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &pointer)
            if count < 0 {
                if self.pendingFatal == nil {
                    self.pendingFatal = (HTTP2ErrorCode.internalError, String(cString: nghttp2_strerror(Int32(count))))
                }
                break
            }
            if count == 0 {
                if self.deferred.isEmpty { break }
                continue
            }
            self.write(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        for (streamID, state) in self.streams {
            if state.outboundBytes > 0 || (state.endQueued && state.hasProvider) {
                if !state.blocked { self.streams[streamID]?.blocked = true }
            } else if state.blocked {
                self.streams[streamID]?.blocked = false
                self.events.append(.windowAvailable(streamID: streamID))
            }
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        if self.output == nil {
            self.output = self.allocator.buffer(capacity: max(bytes.count, 1024))
        }
        self.output!.writeBytes(bytes)
    }

    /// Closes the connection: GOAWAY with `code` (nghttp2's, or a hand-made one if nghttp2 cannot), then throws.
    func fail(code: UInt32, reason: String) throws -> Never {
        if let failure = self.failure { throw failure }
        let error = HTTP2SessionError.connectionError(errorCode: code, reason: reason)
        self.failure = error
        self.pendingFatal = nil
        self.deferred.removeAll()
        if let session = self.session, self.libraryGoAway == nil {
            let lastStreamID = nghttp2_session_get_last_proc_stream_id(session)
            let before = self.goAwayFramesSent
            if nghttp2_session_terminate_session(session, code) == 0 {
                var pointer: UnsafePointer<UInt8>?
                while true {
                    let count = nghttp2_session_mem_send(session, &pointer)
                    if count <= 0 { break }
                    self.write(UnsafeRawBufferPointer(start: pointer, count: count))
                }
            }
            if self.goAwayFramesSent == before {
                self.writeGoAwayFrame(lastStreamID: lastStreamID, code: code)
            }
        }
        throw error
    }

    /// Writes a GOAWAY frame by hand (RFC 9113 §6.8) for when nghttp2 refuses to frame one.
    private func writeGoAwayFrame(lastStreamID: Int32, code: UInt32) {
        var frame = self.allocator.buffer(capacity: 17)
        frame.writeInteger(UInt32(8) << 8 | 0x7)  // 24-bit length 8, type GOAWAY
        frame.writeInteger(UInt8(0))
        frame.writeInteger(UInt32(0))
        frame.writeInteger(UInt32(bitPattern: lastStreamID) & 0x7FFF_FFFF)
        frame.writeInteger(code)
        frame.withUnsafeReadableBytes { self.write($0) }
    }

    // MARK: - Deferred work

    /// Does the work callbacks queued; nghttp2 is not on the stack here.
    func runDeferred() {
        guard let session = self.session else { return }
        while !self.deferred.isEmpty {
            let work = self.deferred
            self.deferred.removeAll()
            for item in work {
                switch item {
                case .consume(let streamID, let bytes):
                    _ = nghttp2_session_consume(session, streamID, bytes)
                case .submitTrailers(let streamID):
                    guard let trailers = self.streams[streamID]?.trailers else { continue }
                    self.streams[streamID]?.trailers = nil
                    let rv = Self.withNameValues(trailers) { nghttp2_submit_trailer(session, streamID, $0, $1) }
                    if rv != 0 { self.reset(streamID: streamID, errorCode: HTTP2ErrorCode.internalError) }
                case .reject(let streamID, let errorCode):
                    self.reject(streamID: streamID, errorCode: errorCode)
                }
            }
        }
    }

    /// Resets a stream for a protocol violation found in Swift, returns its unconsumed window and reports it.
    func reject(streamID: Int32, errorCode: UInt32) {
        guard self.streams[streamID] != nil else { return }
        self.reset(streamID: streamID, errorCode: errorCode)
        self.events.append(.streamReset(streamID: streamID, errorCode: errorCode))
    }

    /// Submits RST_STREAM for a stream the app (or validation) gave up on; its close is not reported.
    func reset(streamID: Int32, errorCode: UInt32) {
        guard let session = self.session, self.streams[streamID] != nil else { return }
        self.streams[streamID]?.resetByUs = true
        self.releaseWindow(streamID: streamID)
        self.streams[streamID]?.outbound.removeAll()
        self.streams[streamID]?.outboundBytes = 0
        self.streams[streamID]?.endQueued = false
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// Returns the receive window of data the app was given but will never consume.
    func releaseWindow(streamID: Int32) {
        guard let session = self.session, let unconsumed = self.streams[streamID]?.unconsumed, unconsumed > 0
        else { return }
        self.streams[streamID]?.unconsumed = 0
        _ = nghttp2_session_consume(session, streamID, unconsumed)
    }
}
