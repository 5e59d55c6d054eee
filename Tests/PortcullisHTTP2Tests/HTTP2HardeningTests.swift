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

    @Test func badPrefaceIsConnectionError() throws {
        let server = try HTTP2ServerSession(settings: HTTP2Settings())
        #expect(throws: HTTP2SessionError.self) { try server.receive(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")) }
        #expect(server.isClosed || server.wantsWrite)
    }
}
