import NIOCore

/// Counts what nghttp2 does not limit by itself and decides when a peer is abusive (HARDENING.md §B3).
///
/// nghttp2 options cover CONTINUATION floods (`max_continuations`), SETTINGS with too many entries
/// (`max_settings`), unsent SETTINGS/PING ACKs (`max_outbound_ack`) and a token bucket on RST_STREAM. This guard
/// adds Envoy's premature-reset rule for rapid reset (CVE-2023-44487), a rate cap on inbound PING/SETTINGS
/// (CVE-2019-9512, -9515), a cap on consecutive empty DATA frames (CVE-2019-9518) and, on the server side,
/// Envoy's budgets for PRIORITY and WINDOW_UPDATE frames (CVE-2019-9513 priority churn, WINDOW_UPDATE floods).
/// Every check is O(1).
///
/// Zero-window stalls (CVE-2019-9517) are the caller's concern: the session never frames more DATA than the
/// peer's window allows, so a stalled peer leaves data in the per-stream queue (`bufferedBytes(streamID:)`);
/// the caller stops producing while it is non-empty and resets streams that stay blocked past its idle timeout.
struct HTTP2AbuseGuard {
    /// Why a peer was judged abusive; becomes the GOAWAY(ENHANCE_YOUR_CALM) reason.
    struct Violation: Error {
        var reason: String
    }

    private let settings: HTTP2Settings
    private let now: () -> NIODeadline
    private(set) var streamsOpened = 0
    private(set) var prematureResets = 0
    private var controlWindowStart: NIODeadline
    private var controlFramesInWindow = 0
    private var consecutiveEmptyFrames = 0
    private(set) var priorityFrames = 0
    private(set) var windowUpdateFrames = 0
    private(set) var dataFramesSent = 0

    init(settings: HTTP2Settings, now: @escaping () -> NIODeadline) {
        self.settings = settings
        self.now = now
        self.controlWindowStart = now()
    }

    /// The time stamp a new stream records as its opening time.
    func timestamp() -> NIODeadline {
        self.now()
    }

    /// A peer-initiated stream opened.
    mutating func streamOpened() {
        self.streamsOpened += 1
    }

    /// The peer reset a stream opened at `openedAt` (nil when it was not tracked). Envoy's rule: once at least
    /// `rapidResetMinStreams` streams were opened, more than `rapidResetMaxRatio` of them reset within
    /// `rapidResetStreamLifetime` of opening means GOAWAY.
    mutating func peerReset(openedAt: NIODeadline?) throws(Violation) {
        guard let openedAt, self.now() - openedAt < self.settings.rapidResetStreamLifetime else { return }
        self.prematureResets += 1
        guard self.streamsOpened >= self.settings.rapidResetMinStreams else { return }
        if Double(self.prematureResets) > Double(self.streamsOpened) * self.settings.rapidResetMaxRatio {
            throw Violation(
                reason: "rapid reset: \(self.prematureResets) of \(self.streamsOpened) streams reset prematurely")
        }
    }

    /// A non-ACK PING or SETTINGS frame arrived; each one costs us an ACK.
    mutating func controlFrame() throws(Violation) {
        let current = self.now()
        if current - self.controlWindowStart >= .seconds(1) {
            self.controlWindowStart = current
            self.controlFramesInWindow = 0
        }
        self.controlFramesInWindow += 1
        if self.controlFramesInWindow > self.settings.maxInboundControlFramesPerSecond {
            let limit = self.settings.maxInboundControlFramesPerSecond
            throw Violation(reason: "control frame flood: more than \(limit) PING/SETTINGS per second")
        }
    }

    /// A DATA frame of `length` payload bytes arrived.
    mutating func dataFrame(length: Int, endStream: Bool) throws(Violation) {
        guard length == 0, !endStream else {
            self.consecutiveEmptyFrames = 0
            return
        }
        self.consecutiveEmptyFrames += 1
        if self.consecutiveEmptyFrames > self.settings.maxConsecutiveEmptyFrames {
            throw Violation(reason: "empty DATA frame flood")
        }
    }

    /// A PRIORITY frame arrived (its header; counted before nghttp2 looks at the stream, so frames for closed or
    /// idle streams count too). Envoy's `max_inbound_priority_frames_per_stream`: the budget is
    /// `maxInboundPriorityFramesPerStream × (1 + streams opened so far)`. PRIORITY information inside HEADERS is
    /// not counted (as in Envoy). Enforced only when `enforce` (the server role).
    mutating func priorityFrame(enforce: Bool) throws(Violation) {
        self.priorityFrames += 1
        guard enforce else { return }
        let budget = self.settings.maxInboundPriorityFramesPerStream * (1 + self.streamsOpened)
        if self.priorityFrames > budget {
            throw Violation(
                reason: "PRIORITY flood: \(self.priorityFrames) PRIORITY frames for \(self.streamsOpened) streams")
        }
    }

    /// A WINDOW_UPDATE frame arrived (its header, whatever the stream). Envoy's
    /// `max_inbound_window_update_frames_per_data_frame_sent` with Envoy's formula: the budget is
    /// `1 + 2 × (streams opened + maxInboundWindowUpdateFramesPerDataFrameSent × DATA frames sent)`, so a client
    /// may also open each stream's window once and answer every DATA frame we send. Enforced only when `enforce`.
    mutating func windowUpdateFrame(enforce: Bool) throws(Violation) {
        self.windowUpdateFrames += 1
        guard enforce else { return }
        let perData = self.settings.maxInboundWindowUpdateFramesPerDataFrameSent
        let budget = 1 + 2 * (self.streamsOpened + perData * self.dataFramesSent)
        if self.windowUpdateFrames > budget {
            throw Violation(
                reason: "WINDOW_UPDATE flood: \(self.windowUpdateFrames) WINDOW_UPDATE frames for "
                    + "\(self.dataFramesSent) DATA frames sent")
        }
    }

    /// We framed a DATA frame (each one raises the WINDOW_UPDATE budget).
    mutating func dataFrameSent() {
        self.dataFramesSent += 1
    }

    /// A frame with a payload other than DATA arrived, which ends a run of empty frames.
    mutating func nonEmptyFrame() {
        self.consecutiveEmptyFrames = 0
    }
}
