import NIOCore
import Testing

@testable import PortcullisHTTP2

/// HARDENING §B3 abuse cases, driven by hand-made frames.
@Suite struct HTTP2HardeningTests {
    /// A server session that already took the client preface.
    private func server(_ settings: HTTP2Settings = HTTP2Settings()) throws -> HTTP2ServerSession {
        let server = try HTTP2ServerSession(settings: settings)
        _ = try server.receive(buffer(clientPreface))
        _ = server.pendingOutput()
        return server
    }

    private func headersFrame(_ streamID: Int32, endStream: Bool, endHeaders: Bool = true) -> [UInt8] {
        let flags: UInt8 = (endStream ? 0x1 : 0) | (endHeaders ? 0x4 : 0)
        return RawFrame(type: RawFrame.headers, flags: flags, streamID: streamID, payload: getBlock).bytes
    }

    private func rstFrame(_ streamID: Int32, code: UInt32 = HTTP2ErrorCode.cancel) -> [UInt8] {
        let payload = [UInt8(code >> 24), UInt8(code >> 16 & 0xFF), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)]
        return RawFrame(type: RawFrame.rstStream, flags: 0, streamID: streamID, payload: payload).bytes
    }

    @Test func excessStreamsAreRefused() throws {
        let server = try self.server()
        var bytes: [UInt8] = []
        for index in 0..<101 {
            bytes += self.headersFrame(Int32(2 * index + 1), endStream: false)
        }
        let events = try server.receive(buffer(bytes))
        #expect(events.filter { if case .request = $0 { true } else { false } }.count == 100)
        #expect(server.activeStreamCount == 100)
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        let resets = frames.filter { $0.type == RawFrame.rstStream }
        #expect(resets.count == 1)
        #expect(resets.first?.streamID == 201)
        #expect(resets.first?.errorCode == HTTP2ErrorCode.refusedStream)
    }

    @Test func rapidResetFloodGetsGoAway() throws {
        let server = try self.server()
        var bytes: [UInt8] = []
        for index in 0..<1_000 {
            let streamID = Int32(2 * index + 1)
            bytes += self.headersFrame(streamID, endStream: true) + self.rstFrame(streamID)
        }
        var thrown: HTTP2SessionError?
        do {
            _ = try server.receive(buffer(bytes))
        } catch {
            thrown = error as? HTTP2SessionError
        }
        guard case .connectionError(HTTP2ErrorCode.enhanceYourCalm, _)? = thrown else {
            Issue.record("expected ENHANCE_YOUR_CALM, got \(String(describing: thrown))")
            return
        }
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        let goAway = frames.last { $0.type == RawFrame.goAway }
        #expect(goAway?.errorCode == HTTP2ErrorCode.enhanceYourCalm)
        #expect(server.isClosed)
        let late = buffer(self.headersFrame(2_001, endStream: true))
        #expect(throws: HTTP2SessionError.self) { try server.receive(late) }
    }

    @Test func continuationFloodGetsGoAway() throws {
        let server = try self.server()
        var bytes = self.headersFrame(1, endStream: true, endHeaders: false)
        let literal: [UInt8] = [0x00, 0x01, UInt8(ascii: "x"), 0x01, UInt8(ascii: "y")]
        for _ in 0..<50 {
            bytes += RawFrame(type: RawFrame.continuation, flags: 0, streamID: 1, payload: literal).bytes
        }
        #expect(throws: HTTP2SessionError.self) { try server.receive(buffer(bytes)) }
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        #expect(frames.contains { $0.type == RawFrame.goAway && $0.errorCode != HTTP2ErrorCode.noError })
        #expect(server.activeStreamCount <= 1)
    }

    @Test func pingFloodGetsGoAway() throws {
        let server = try self.server()
        var bytes: [UInt8] = []
        for _ in 0..<2_000 {
            bytes += RawFrame(type: RawFrame.ping, flags: 0, streamID: 0, payload: Array(repeating: 0, count: 8)).bytes
        }
        #expect(throws: HTTP2SessionError.self) { try server.receive(buffer(bytes)) }
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        #expect(frames.filter { $0.type == RawFrame.ping }.count <= 1_000)
        #expect(frames.last { $0.type == RawFrame.goAway }?.errorCode == HTTP2ErrorCode.enhanceYourCalm)
    }

    @Test func emptyDataFloodGetsGoAway() throws {
        let server = try self.server()
        var bytes = self.headersFrame(1, endStream: false)
        for _ in 0..<10 {
            bytes += RawFrame(type: RawFrame.data, flags: 0, streamID: 1, payload: []).bytes
        }
        #expect(throws: HTTP2SessionError.self) { try server.receive(buffer(bytes)) }
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        #expect(frames.last { $0.type == RawFrame.goAway }?.errorCode == HTTP2ErrorCode.enhanceYourCalm)
    }

    /// Asserts that `bytes` end the connection with GOAWAY(ENHANCE_YOUR_CALM) naming `reason`.
    private func expectCalm(_ server: HTTP2ServerSession, _ bytes: [UInt8], reason: String) {
        var thrown: HTTP2SessionError?
        do {
            _ = try server.receive(buffer(bytes))
        } catch {
            thrown = error as? HTTP2SessionError
        }
        guard case .connectionError(HTTP2ErrorCode.enhanceYourCalm, let text)? = thrown else {
            Issue.record("expected ENHANCE_YOUR_CALM, got \(String(describing: thrown))")
            return
        }
        #expect(text.contains(reason), "\(text)")
        let frames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer())
        #expect(frames.last { $0.type == RawFrame.goAway }?.errorCode == HTTP2ErrorCode.enhanceYourCalm)
        #expect(server.isClosed)
    }

    @Test func priorityFloodGetsGoAway() throws {
        // No stream opened: 100 PRIORITY frames are allowed, the 101st is a flood (Envoy's 100 per stream).
        let server = try self.server()
        let allowed = (0..<100).flatMap { RawFrame.priorityFrame(Int32(2 * $0 + 1)) }
        _ = try server.receive(buffer(allowed))
        #expect(!server.isClosed)
        self.expectCalm(server, RawFrame.priorityFrame(1_001), reason: "PRIORITY flood")
    }

    @Test func priorityBudgetGrowsWithOpenedStreams() throws {
        // Two streams opened: 100 × (1 + 2) = 300 PRIORITY frames, even for closed and idle streams.
        let server = try self.server()
        var bytes = self.headersFrame(1, endStream: true) + self.headersFrame(3, endStream: true)
        bytes += (0..<300).flatMap { RawFrame.priorityFrame(Int32(1 + 2 * ($0 % 4))) }
        let events = try server.receive(buffer(bytes))
        #expect(events.filter { if case .request = $0 { true } else { false } }.count == 2)
        self.expectCalm(server, RawFrame.priorityFrame(5), reason: "PRIORITY flood")
    }

    @Test func priorityInsideHeadersIsNotCounted() throws {
        // The PRIORITY flag on HEADERS carries the same information but is not a PRIORITY frame (as in Envoy).
        let server = try self.server()
        let block: [UInt8] = [0, 0, 0, 0, 15] + getBlock
        let flags: UInt8 = 0x1 | 0x4 | 0x20  // END_STREAM, END_HEADERS, PRIORITY
        var bytes: [UInt8] = []
        for index in 0..<150 {
            let streamID = Int32(2 * index + 1)
            bytes += RawFrame(type: RawFrame.headers, flags: flags, streamID: streamID, payload: block).bytes
            bytes += self.rstFrame(streamID)
        }
        _ = try server.receive(buffer(bytes))
        #expect(!server.isClosed)
    }

    @Test func windowUpdateFloodGetsGoAway() throws {
        // Nothing sent and no stream: Envoy's budget 1 + 2 × (0 + 10 × 0) = 1 WINDOW_UPDATE.
        let server = try self.server()
        _ = try server.receive(buffer(RawFrame.windowUpdateFrame(0)))
        #expect(!server.isClosed)
        self.expectCalm(server, RawFrame.windowUpdateFrame(0), reason: "WINDOW_UPDATE flood")
    }

    @Test func windowUpdatesForClosedStreamsCount() throws {
        // Frames nghttp2 ignores (a stream already closed) still count against the budget.
        let server = try self.server()
        var bytes = self.headersFrame(1, endStream: true) + self.rstFrame(1)
        bytes += (0..<3).flatMap { _ in RawFrame.windowUpdateFrame(1) }  // 1 + 2 × 1 = 3 allowed
        _ = try server.receive(buffer(bytes))
        #expect(!server.isClosed)
        self.expectCalm(server, RawFrame.windowUpdateFrame(1), reason: "WINDOW_UPDATE flood")
    }

    @Test func windowUpdateBudgetGrowsWithDataSent() throws {
        // A client answering every DATA frame with a stream and a connection WINDOW_UPDATE is well within the
        // budget: 1 + 2 × (1 stream + 10 × DATA frames sent).
        let server = try self.server()
        let events = try server.receive(buffer(self.headersFrame(1, endStream: true)))
        #expect(events.count == 1)
        server.sendResponse(streamID: 1, headers: headers([(":status", "200")]), endStream: false)
        for _ in 0..<3 {
            server.sendData(streamID: 1, ByteBuffer(repeating: 0x61, count: 100), endStream: false)
        }
        let dataFrames = RawFrame.parse(server.pendingOutput() ?? ByteBuffer()).filter { $0.type == RawFrame.data }
        #expect(dataFrames.count == 3)
        // 1 + 2 × (1 + 10 × 3) = 63 WINDOW_UPDATE frames allowed.
        let answers = (0..<63).flatMap { RawFrame.windowUpdateFrame($0 % 2 == 0 ? 1 : 0, increment: 100) }
        _ = try server.receive(buffer(answers))
        #expect(!server.isClosed)
        self.expectCalm(server, RawFrame.windowUpdateFrame(0), reason: "WINDOW_UPDATE flood")
    }

    @Test func floodLimitsFollowTheSettings() throws {
        var settings = HTTP2Settings()
        settings.maxInboundPriorityFramesPerStream = 1_000
        settings.maxInboundWindowUpdateFramesPerDataFrameSent = 1
        let server = try self.server(settings)
        _ = try server.receive(buffer((0..<1_000).flatMap { RawFrame.priorityFrame(Int32(2 * $0 + 1)) }))
        #expect(!server.isClosed)
        settings.maxInboundPriorityFramesPerStream = 0
        #expect(throws: HTTP2SessionError.self) { try HTTP2ServerSession(settings: settings) }
    }

    @Test func clientSessionDoesNotEnforceTheServerBudgets() throws {
        // The budgets guard downstream connections; an upstream's WINDOW_UPDATEs are not judged.
        let pair = try SessionPair()
        try pair.pump()
        _ = try pair.client.startRequest(headers: getRequest(), endStream: true)
        try pair.pump()
        let updates = (0..<20).flatMap { _ in RawFrame.windowUpdateFrame(0) }
        _ = try pair.client.receive(buffer(updates))
    }

    @Test func badPrefaceIsConnectionError() throws {
        let server = try HTTP2ServerSession(settings: HTTP2Settings())
        #expect(throws: HTTP2SessionError.self) { try server.receive(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")) }
        #expect(server.isClosed || server.wantsWrite)
    }
}
