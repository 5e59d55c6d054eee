internal import CPortcullisNghttp2
import NIOCore

/// The nghttp2 callbacks. Each recovers the core through `Unmanaged` (the core owns the session, so it outlives
/// every callback), records events and state, and never calls back into nghttp2 (STYLE rule 6).
extension HTTP2SessionCore {
    fileprivate static func core(_ userData: UnsafeMutableRawPointer?) -> HTTP2SessionCore {
        Unmanaged<HTTP2SessionCore>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Registers every callback on a fresh callbacks object; the caller deletes it.
    static func makeCallbacks() throws -> OpaquePointer {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw HTTP2SessionError.library(-901)
        }
        // Checks: PRIORITY and WINDOW_UPDATE budgets (server). Runs on every frame header before nghttp2 looks the
        // stream up, so frames for closed or idle streams (which never reach on_frame_recv) are counted too.
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { _, header, userData in
            guard let header else { return 0 }
            return HTTP2SessionCore.core(userData).beginFrame(type: header.pointee.type)
        }
        // Checks: a request HEADERS opens a tracked stream (counted for rapid reset); other blocks restart the
        // per-block size accounting.
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            return HTTP2SessionCore.core(userData).beginHeaders(frame.pointee)
        }
        // Checks: the decoded size and count of the block (header list size cap, HPACK bomb).
        nghttp2_session_callbacks_set_on_header_callback(callbacks) {
            _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value else { return 0 }
            return HTTP2SessionCore.core(userData).header(
                streamID: frame.pointee.hd.stream_id,
                name: UnsafeBufferPointer(start: name, count: nameLength),
                value: UnsafeBufferPointer(start: value, count: valueLength))
        }
        // Checks: invalid field characters (CR, LF, NUL, whitespace, bad name bytes) reset the stream with
        // PROTOCOL_ERROR instead of being silently dropped (HARDENING §B2.3).
        nghttp2_session_callbacks_set_on_invalid_header_callback(callbacks) { _, _, _, _, _, _, _, _ in
            NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
        }
        // Checks: end of header blocks, DATA END_STREAM, abuse counters for RST_STREAM, PING, SETTINGS, DATA.
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            return HTTP2SessionCore.core(userData).frameReceived(frame.pointee)
        }
        // Checks: nothing; copies the chunk and counts it as unconsumed receive window.
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
            _, _, streamID, data, length, userData in
            let chunk = UnsafeRawBufferPointer(start: data, count: length)
            return HTTP2SessionCore.core(userData).dataChunk(streamID: streamID, chunk)
        }
        // Checks: whether the close is abnormal and not already reported; returns unconsumed window.
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            HTTP2SessionCore.core(userData).streamClosed(streamID: streamID, errorCode: errorCode)
            return 0
        }
        // Checks: GOAWAY frames nghttp2 sent with an error, i.e. connection errors it detected itself; counts DATA
        // frames sent for the WINDOW_UPDATE budget.
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            HTTP2SessionCore.core(userData).frameSent(frame.pointee)
            return 0
        }
        return callbacks
    }

    // MARK: - Handlers (nghttp2 on the stack: record only)

    func beginFrame(type: UInt8) -> Int32 {
        let enforce = self.role == .server
        do {
            switch UInt32(type) {
            case NGHTTP2_PRIORITY.rawValue:
                try self.abuse.priorityFrame(enforce: enforce)
            case NGHTTP2_WINDOW_UPDATE.rawValue:
                try self.abuse.windowUpdateFrame(enforce: enforce)
            default:
                break
            }
        } catch {
            self.pendingFatal = (HTTP2ErrorCode.enhanceYourCalm, error.reason)
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        return 0
    }

    func beginHeaders(_ frame: nghttp2_frame) -> Int32 {
        let streamID = frame.hd.stream_id
        if frame.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) && frame.headers.cat == NGHTTP2_HCAT_REQUEST {
            self.abuse.streamOpened()
            self.streams[streamID] = HTTP2StreamState(openedAt: self.abuse.timestamp())
        }
        self.abuse.nonEmptyFrame()
        self.streams[streamID]?.block = []
        self.streams[streamID]?.blockBytes = 0
        self.streams[streamID]?.blockTooLarge = false
        return 0
    }

    func header(streamID: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Int32 {
        guard var state = self.streams.removeValue(forKey: streamID) else { return 0 }
        defer { self.streams[streamID] = state }
        state.blockBytes += name.count + value.count + 32
        if state.blockBytes > self.settings.maxHeaderListSize * 4 {
            // An HPACK bomb: stop decoding this connection at once.
            let reason = "header block decodes to over \(state.blockBytes) bytes"
            self.pendingFatal = (HTTP2ErrorCode.enhanceYourCalm, reason)
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        if state.blockTooLarge { return 0 }
        if state.blockBytes > self.settings.maxHeaderListSize || state.block.count >= self.settings.maxHeaderCount {
            state.blockTooLarge = true
            state.block = []
            return 0
        }
        state.block.append(
            HTTP2Header(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        return 0
    }

    func frameReceived(_ frame: nghttp2_frame) -> Int32 {
        let streamID = frame.hd.stream_id
        let endStream = frame.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        let ack = frame.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
        do {
            switch UInt32(frame.hd.type) {
            case NGHTTP2_HEADERS.rawValue:
                self.headerBlockEnded(streamID: streamID, endStream: endStream)
            case NGHTTP2_DATA.rawValue:
                try self.abuse.dataFrame(length: frame.hd.length, endStream: endStream)
                if endStream, self.streams[streamID] != nil { self.markEndStream(streamID: streamID) }
            case NGHTTP2_RST_STREAM.rawValue:
                try self.abuse.peerReset(openedAt: self.streams[streamID]?.openedAt)
            case NGHTTP2_PING.rawValue where !ack, NGHTTP2_SETTINGS.rawValue where !ack:
                try self.abuse.controlFrame()
            case NGHTTP2_GOAWAY.rawValue:
                self.goAwayReceived = true
                self.events.append(
                    .goAway(lastStreamID: frame.goaway.last_stream_id, errorCode: frame.goaway.error_code))
            default:
                self.abuse.nonEmptyFrame()
            }
        } catch {
            self.pendingFatal = (HTTP2ErrorCode.enhanceYourCalm, error.reason)
            return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue
        }
        return 0
    }

    private func headerBlockEnded(streamID: Int32, endStream: Bool) {
        guard var state = self.streams[streamID] else { return }
        if state.blockTooLarge {
            // Drop the rest of this batch's frames for the stream; the reset itself waits until nghttp2 returns.
            self.streams[streamID]?.resetByUs = true
            self.deferred.append(.reject(streamID: streamID, errorCode: HTTP2ErrorCode.protocolError))
            return
        }
        let kind: HTTP2CoreEvent.HeadersKind
        if state.initialHeadersSeen {
            kind = .trailers
        } else if self.role == .client,
            let status = state.block.first(where: { $0.name == ":status" })?.value, status.hasPrefix("1")
        {
            kind = .informational
        } else {
            kind = .initial
            state.initialHeadersSeen = true
        }
        self.events.append(.headers(streamID: streamID, state.block, endStream: endStream, kind: kind))
        state.block = []
        self.streams[streamID] = state
    }

    /// Marks the body's last `.data` event as the end, or adds an empty one.
    private func markEndStream(streamID: Int32) {
        if case .data(let lastID, let buffer, false)? = self.events.last, lastID == streamID {
            self.events[self.events.count - 1] = .data(streamID: streamID, buffer, endStream: true)
        } else {
            self.events.append(.data(streamID: streamID, ByteBuffer(), endStream: true))
        }
    }

    func dataChunk(streamID: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard self.streams[streamID] != nil, self.streams[streamID]?.resetByUs == false else {
            // Nobody will consume these bytes: give the window back once nghttp2 returns.
            self.deferred.append(.consume(streamID: streamID, bytes: bytes.count))
            return 0
        }
        self.streams[streamID]?.unconsumed += bytes.count
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        self.events.append(.data(streamID: streamID, buffer, endStream: false))
        return 0
    }

    func streamClosed(streamID: Int32, errorCode: UInt32) {
        guard let state = self.streams.removeValue(forKey: streamID) else { return }
        if state.unconsumed > 0 {
            self.deferred.append(.consume(streamID: streamID, bytes: state.unconsumed))
        }
        if errorCode != HTTP2ErrorCode.noError && !state.resetByUs {
            self.events.append(.streamReset(streamID: streamID, errorCode: errorCode))
        }
    }

    func frameSent(_ frame: nghttp2_frame) {
        if frame.hd.type == UInt8(NGHTTP2_DATA.rawValue) {
            self.abuse.dataFrameSent()
            return
        }
        guard frame.hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) else { return }
        self.goAwayFramesSent += 1
        guard frame.goaway.error_code != HTTP2ErrorCode.noError, !self.goAwaySent, self.failure == nil else { return }
        var reason = "GOAWAY sent by nghttp2"
        if let data = frame.goaway.opaque_data, frame.goaway.opaque_data_len > 0 {
            let bytes = UnsafeBufferPointer(start: data, count: frame.goaway.opaque_data_len)
            reason = String(decoding: bytes, as: UTF8.self)
        }
        self.libraryGoAway = (frame.goaway.error_code, reason)
    }
}
