import NIOCore

/// Local HTTP/2 settings and abuse limits for one connection (RFC 9113 §6.5.2, HARDENING.md §B3).
///
/// The first group is advertised to the peer in the initial SETTINGS frame; the second group is enforced locally
/// and never sent. Defaults follow Envoy where it has one.
public struct HTTP2Settings: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may open at once. Until the peer acknowledges our
    /// SETTINGS, excess streams are refused with REFUSED_STREAM; after that nghttp2 treats them as a connection
    /// error (RFC 9113 §5.1.2 allows either).
    public var maxConcurrentStreams: Int = 100
    /// SETTINGS_INITIAL_WINDOW_SIZE: the receive window of each stream, refilled only by `consumed(streamID:bytes:)`.
    public var initialWindowSize: Int = 65_535
    /// The receive window of the whole connection, also refilled only by `consumed(streamID:bytes:)`.
    public var connectionWindowSize: Int = 1_048_576
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept.
    public var maxFrameSize: Int = 16_384
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the decoded header list size (names + values + 32 per field, RFC 9113
    /// §6.5.2) above which a stream is reset; 4x this within one block is a connection error (HPACK bomb).
    public var maxHeaderListSize: Int = 60 * 1024
    /// Header fields per block above which the stream is reset (HARDENING §B3.4, §B3.11; Envoy's 100).
    public var maxHeaderCount: Int = 100
    /// CONTINUATION frames allowed after one HEADERS frame before the connection is closed (CVE-2024-27316).
    public var maxContinuationFrames: Int = 8
    /// SETTINGS and PING acknowledgements nghttp2 may hold unsent before it gives up on the peer (CVE-2019-9512).
    public var maxOutboundControlFrames: Int = 1000
    /// SETTINGS entries accepted in one SETTINGS frame (CVE-2020-11080).
    public var maxSettingsEntries: Int = 32
    /// Non-ACK PING and SETTINGS frames accepted per second before GOAWAY(ENHANCE_YOUR_CALM) (CVE-2019-9512/9515).
    public var maxInboundControlFramesPerSecond: Int = 1000
    /// Consecutive DATA frames with an empty payload and no END_STREAM tolerated (CVE-2019-9518; Envoy: 1).
    public var maxConsecutiveEmptyFrames: Int = 1
    /// PRIORITY frames accepted per opened stream (server only): more than this × (1 + streams opened so far)
    /// → GOAWAY(ENHANCE_YOUR_CALM) (CVE-2019-9513; Envoy `max_inbound_priority_frames_per_stream`: 100).
    public var maxInboundPriorityFramesPerStream: Int = 100
    /// WINDOW_UPDATE frames accepted per DATA frame sent (server only): more than
    /// 1 + 2 × (streams opened + this × DATA frames sent) → GOAWAY(ENHANCE_YOUR_CALM) (Envoy
    /// `max_inbound_window_update_frames_per_data_frame_sent`: 10, with Envoy's formula).
    public var maxInboundWindowUpdateFramesPerDataFrameSent: Int = 10
    /// Streams opened before the rapid-reset ratio is judged (Envoy `premature_reset_total_stream_count`).
    public var rapidResetMinStreams: Int = 500
    /// Share of opened streams reset by the peer within `rapidResetStreamLifetime` that triggers GOAWAY.
    public var rapidResetMaxRatio: Double = 0.5
    /// A peer reset within this time of the stream opening counts as premature (CVE-2023-44487).
    public var rapidResetStreamLifetime: TimeAmount = .seconds(1)
    /// nghttp2's own token bucket on received RST_STREAM frames (server only): initial burst.
    public var resetRateBurst: Int = 1000
    /// nghttp2's own token bucket on received RST_STREAM frames (server only): tokens regained per second.
    public var resetRatePerSecond: Int = 33

    /// Creates the defaults.
    public init() {}

    /// Creates the defaults with the stream and connection windows changed.
    public init(initialWindowSize: Int, connectionWindowSize: Int = 1_048_576) {
        self.initialWindowSize = initialWindowSize
        self.connectionWindowSize = connectionWindowSize
    }

    /// Checks the RFC 9113 §6.5.2 ranges.
    func validate() throws {
        let maxWindow = Int(Int32.max)
        guard (0...maxWindow).contains(self.initialWindowSize),
            (65_535...maxWindow).contains(self.connectionWindowSize)
        else {
            throw HTTP2SessionError.invalidSettings("window sizes must be within 0...2^31-1 (connection >= 65535)")
        }
        guard (16_384...16_777_215).contains(self.maxFrameSize) else {
            throw HTTP2SessionError.invalidSettings("maxFrameSize must be within 16384...16777215")
        }
        guard self.maxConcurrentStreams >= 0, self.maxConcurrentStreams <= Int(UInt32.max),
            self.maxHeaderListSize > 0, self.maxHeaderCount > 0, self.maxContinuationFrames >= 0,
            self.maxOutboundControlFrames > 0, self.maxSettingsEntries > 0,
            self.maxInboundControlFramesPerSecond > 0, self.maxConsecutiveEmptyFrames >= 0,
            self.maxInboundPriorityFramesPerStream > 0, self.maxInboundWindowUpdateFramesPerDataFrameSent > 0,
            self.rapidResetMinStreams > 0, self.rapidResetMaxRatio > 0, self.resetRateBurst > 0,
            self.resetRatePerSecond > 0
        else {
            throw HTTP2SessionError.invalidSettings("limits must be positive")
        }
    }
}

/// One header field. nghttp2 lower-cases names as it copies them for sending (RFC 9113 §8.2.1); received values
/// that are not UTF-8 are decoded with replacement characters.
public struct HTTP2Header: Sendable, Hashable {
    /// The field name, lower case on the wire; pseudo-headers start with `:`.
    public var name: String
    /// The field value.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// HTTP/2 error codes (RFC 9113 §7), as carried by RST_STREAM and GOAWAY.
public enum HTTP2ErrorCode {
    /// Graceful shutdown or normal close.
    public static let noError: UInt32 = 0x0
    /// A protocol violation, including a malformed request (RFC 9113 §8.1.1).
    public static let protocolError: UInt32 = 0x1
    /// An unexpected internal error.
    public static let internalError: UInt32 = 0x2
    /// The peer violated flow control.
    public static let flowControlError: UInt32 = 0x3
    /// A frame arrived for a closed stream.
    public static let streamClosed: UInt32 = 0x5
    /// A frame had an invalid size.
    public static let frameSizeError: UInt32 = 0x6
    /// The stream was refused before any processing; safe to retry.
    public static let refusedStream: UInt32 = 0x7
    /// The stream is no longer needed.
    public static let cancel: UInt32 = 0x8
    /// The HPACK context could not be maintained.
    public static let compressionError: UInt32 = 0x9
    /// The peer is generating excessive load (abuse limits).
    public static let enhanceYourCalm: UInt32 = 0xB
}

/// Errors of the session layer.
public enum HTTP2SessionError: Error, Sendable, Equatable {
    /// The connection failed; `pendingOutput()` holds the GOAWAY (if any could be built) and the connection must
    /// close after writing it.
    case connectionError(errorCode: UInt32, reason: String)
    /// The settings were out of range.
    case invalidSettings(String)
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached; open another connection or wait.
    case streamLimitReached
    /// A GOAWAY was sent or received, so no new stream may start on this connection.
    case goingAway
    /// The session already failed or closed.
    case sessionClosed
    /// nghttp2 refused a call; the number is its error code.
    case library(Int32)
}
