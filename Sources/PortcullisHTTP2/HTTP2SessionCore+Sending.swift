internal import CPortcullisNghttp2
import NIOCore

/// Outbound operations shared by both roles. Each runs with nghttp2 off the stack and ends with `flush()`.
extension HTTP2SessionCore {
    /// Queues body bytes; the data provider frames them as the peer's windows allow.
    func sendData(streamID: Int32, _ data: ByteBuffer, endStream: Bool) {
        guard self.failure == nil, let state = self.streams[streamID], state.hasProvider, !state.endQueued else {
            return
        }
        if data.readableBytes > 0 {
            self.streams[streamID]?.outbound.append(data)
            self.streams[streamID]?.outboundBytes += data.readableBytes
        }
        if endStream {
            self.streams[streamID]?.endQueued = true
        }
        self.resumeProvider(streamID: streamID)
        self.flush()
    }

    /// Ends the body with trailers: the provider sends its last DATA without END_STREAM, then HEADERS carries
    /// the trailers and END_STREAM (RFC 9113 §8.1).
    func sendTrailers(streamID: Int32, _ trailers: [HTTP2Header]) {
        guard self.failure == nil, let state = self.streams[streamID], state.hasProvider, !state.endQueued else {
            return
        }
        self.streams[streamID]?.trailers = trailers
        self.streams[streamID]?.endQueued = true
        self.resumeProvider(streamID: streamID)
        self.flush()
    }

    /// The app processed `bytes` of received DATA: give the window back so nghttp2 sends WINDOW_UPDATE.
    func consumed(streamID: Int32, bytes: Int) {
        guard self.failure == nil, let session = self.session, bytes > 0,
            let unconsumed = self.streams[streamID]?.unconsumed
        else { return }
        let amount = min(bytes, unconsumed)
        guard amount > 0 else { return }
        self.streams[streamID]?.unconsumed = unconsumed - amount
        _ = nghttp2_session_consume(session, streamID, amount)
        self.flush()
    }

    /// Resets a stream at the app's request.
    func resetStream(streamID: Int32, errorCode: UInt32) {
        guard self.failure == nil else { return }
        self.reset(streamID: streamID, errorCode: errorCode)
        self.flush()
    }

    /// Graceful GOAWAY: the last stream id is the highest peer stream processed, so streams in flight finish
    /// and the peer may retry anything above it (RFC 9113 §6.8).
    func goAway(errorCode: UInt32) {
        guard self.failure == nil, let session = self.session else { return }
        self.goAwaySent = true
        let lastStreamID = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, errorCode, nil, 0)
        self.flush()
    }

    /// Bytes queued on a stream and not yet framed (waiting for the peer's window).
    func bufferedBytes(streamID: Int32) -> Int {
        self.streams[streamID]?.outboundBytes ?? 0
    }

    /// Streams whose queued body (or its end) waits for the peer's window, with the body bytes framed so far.
    func blockedStreams() -> [(streamID: Int32, framedBytes: Int)] {
        self.streams.compactMap { streamID, state in
            state.blocked && !state.resetByUs ? (streamID, state.framedBytes) : nil
        }
    }

    /// Tells nghttp2 a deferred provider has data (or its end) again.
    private func resumeProvider(streamID: Int32) {
        guard let session = self.session, self.streams[streamID]?.providerDeferred == true else { return }
        self.streams[streamID]?.providerDeferred = false
        _ = nghttp2_session_resume_data(session, streamID)
    }

    /// The data provider attached to every head sent without END_STREAM; its read callback is
    /// `readOutbound(streamID:into:length:flags:)`.
    static func makeDataProvider() -> nghttp2_data_provider {
        var provider = nghttp2_data_provider()
        provider.source.ptr = nil
        // Called by nghttp2 while framing DATA; only touches the stream's queue (no nghttp2 calls).
        provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
            guard let userData, let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
            let core = Unmanaged<HTTP2SessionCore>.fromOpaque(userData).takeUnretainedValue()
            return core.readOutbound(streamID: streamID, into: buffer, length: length, flags: flags)
        }
        return provider
    }

    /// Copies up to `length` queued bytes into nghttp2's frame buffer; at the end of the body sets EOF (and
    /// NO_END_STREAM when trailers follow, queuing their submission for after nghttp2 returns).
    func readOutbound(
        streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard var state = self.streams.removeValue(forKey: streamID) else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        defer { self.streams[streamID] = state }
        var written = 0
        while written < length, var chunk = state.outbound.first {
            let take = min(length - written, chunk.readableBytes)
            chunk.withUnsafeReadableBytes { raw in
                UnsafeMutableRawPointer(buffer + written).copyMemory(from: raw.baseAddress!, byteCount: take)
            }
            chunk.moveReaderIndex(forwardBy: take)
            written += take
            state.outboundBytes -= take
            state.framedBytes += take
            if chunk.readableBytes == 0 {
                state.outbound.removeFirst()
            } else {
                state.outbound[state.outbound.startIndex] = chunk
            }
        }
        if state.outboundBytes == 0 && state.endQueued {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            state.hasProvider = false
            if state.trailers != nil {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                self.deferred.append(.submitTrailers(streamID: streamID))
            }
            return written
        }
        if written == 0 {
            state.providerDeferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        return written
    }

    /// Builds a temporary `nghttp2_nv` array over one allocation holding every name and value; nghttp2 copies
    /// them during `body`. `authorization` and `proxy-authorization` are marked never-indexed (RFC 7541 §7.1.3).
    static func withNameValues<Result>(
        _ headers: [HTTP2Header], _ body: (UnsafePointer<nghttp2_nv>?, Int) -> Result
    ) -> Result {
        let total = headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var nameValues: [nghttp2_nv] = []
        nameValues.reserveCapacity(headers.count)
        var offset = 0
        for header in headers {
            let nameStart = offset
            for byte in header.name.utf8 {
                storage[offset] = byte
                offset += 1
            }
            let valueStart = offset
            for byte in header.value.utf8 {
                storage[offset] = byte
                offset += 1
            }
            let sensitive = header.name == "authorization" || header.name == "proxy-authorization"
            nameValues.append(
                nghttp2_nv(
                    name: storage.baseAddress! + nameStart, value: storage.baseAddress! + valueStart,
                    namelen: valueStart - nameStart, valuelen: offset - valueStart,
                    flags: UInt8(sensitive ? NGHTTP2_NV_FLAG_NO_INDEX.rawValue : NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        return nameValues.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
    }
}
