import NIOCore
import Testing

@testable import PortcullisHTTP2

/// RFC 9113 §8.2–§8.3 request validation, end to end and on the validator alone.
@Suite struct HTTP2ValidationTests {
    static let invalidRequests: [(String, [HTTP2Header])] = [
        ("missing :path", headers([(":method", "GET"), (":scheme", "https"), (":authority", "a")])),
        ("connection header", getRequest() + headers([("connection", "keep-alive")])),
        ("te gzip", getRequest() + headers([("te", "gzip")])),
    ]

    @Test(arguments: 0..<invalidRequests.count)
    func invalidRequestIsResetWithProtocolError(index: Int) throws {
        let (_, head) = Self.invalidRequests[index]
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(headers: head, endStream: true)
        try pair.pump()
        #expect(!pair.takeServerEvents().contains { if case .request = $0 { true } else { false } })
        #expect(pair.takeClientEvents().contains {
            if case .streamReset(streamID, HTTP2ErrorCode.protocolError) = $0 { true } else { false }
        })
        #expect(pair.server.activeStreamCount == 0)
        // The connection survives: a valid request still works.
        _ = try pair.client.startRequest(headers: getRequest(), endStream: true)
        try pair.pump()
        #expect(pair.takeServerEvents().contains { if case .request = $0 { true } else { false } })
    }

    /// nghttp2 lower-cases names it sends, so an upper-case name needs a hand-made HEADERS frame.
    @Test func uppercaseHeaderNameIsResetWithProtocolError() throws {
        let server = try HTTP2ServerSession(settings: HTTP2Settings())
        _ = try server.receive(buffer(clientPreface))
        _ = server.pendingOutput()
        let block = getBlock + [0x00, 0x07] + Array("X-Upper".utf8) + [0x01, UInt8(ascii: "1")]
        let frame = RawFrame(type: RawFrame.headers, flags: 0x5, streamID: 1, payload: block)
        let events = try server.receive(buffer(frame.bytes))
        #expect(!events.contains { if case .request = $0 { true } else { false } })
        #expect(events.contains {
            if case .streamReset(1, HTTP2ErrorCode.protocolError) = $0 { true } else { false }
        })
        let resets = RawFrame.parse(server.pendingOutput() ?? ByteBuffer()).filter { $0.type == RawFrame.rstStream }
        #expect(resets.map(\.streamID) == [1])
        #expect(resets.first?.errorCode == HTTP2ErrorCode.protocolError)
        #expect(server.activeStreamCount == 0)
    }

    @Test func validatorRejectsWhatNghttp2Lets() {
        #expect(HTTP2HeaderValidation.validateRequest(getRequest()) == nil)
        #expect(HTTP2HeaderValidation.validateRequest(getRequest() + headers([("X-Upper", "1")])) != nil)
        let mismatchedHost = getRequest() + headers([("host", "other.example")])
        #expect(HTTP2HeaderValidation.validateRequest(mismatchedHost) != nil)
        let connect = headers([(":method", "CONNECT"), (":authority", "a:443")])
        #expect(HTTP2HeaderValidation.validateRequest(connect) == nil)
        let connectWithPath = connect + headers([(":path", "/")])
        #expect(HTTP2HeaderValidation.validateRequest(connectWithPath) != nil)
        let relative = headers([(":method", "GET"), (":scheme", "https"), (":path", "x")])
        #expect(HTTP2HeaderValidation.validateRequest(relative) != nil)
        let late = headers([(":method", "GET"), ("a", "b"), (":scheme", "https"), (":path", "/")])
        #expect(HTTP2HeaderValidation.validateRequest(late) != nil)
        #expect(HTTP2HeaderValidation.validateRequest(getRequest() + headers([("x", "a\r\nb")])) != nil)
        #expect(HTTP2HeaderValidation.validateRequest(getRequest() + headers([("x", " a")])) != nil)
        #expect(HTTP2HeaderValidation.validateRequest(getRequest() + headers([("te", "trailers")])) == nil)
        #expect(HTTP2HeaderValidation.validateResponse(headers([(":status", "200")])) == nil)
        #expect(HTTP2HeaderValidation.validateResponse(headers([("a", "b")])) != nil)
        #expect(HTTP2HeaderValidation.validateTrailers(headers([(":status", "200")])) != nil)
    }

    @Test func oversizedHeaderListIsReset() throws {
        var settings = HTTP2Settings()
        settings.maxHeaderListSize = 8 * 1024
        let pair = try SessionPair(server: settings)
        try pair.pump()
        let streamID = try pair.client.startRequest(
            headers: getRequest() + headers([("x-big", String(repeating: "v", count: 10 * 1024))]), endStream: true)
        try pair.pump()
        #expect(!pair.takeServerEvents().contains { if case .request = $0 { true } else { false } })
        #expect(pair.takeClientEvents().contains {
            if case .streamReset(streamID, HTTP2ErrorCode.protocolError) = $0 { true } else { false }
        })
    }

    @Test func tooManyHeaderFieldsIsReset() throws {
        let pair = try SessionPair()
        let many = (0..<150).map { HTTP2Header(name: "x-\($0)", value: "1") }
        let streamID = try pair.client.startRequest(headers: getRequest() + many, endStream: true)
        try pair.pump()
        #expect(pair.takeClientEvents().contains {
            if case .streamReset(streamID, HTTP2ErrorCode.protocolError) = $0 { true } else { false }
        })
    }
}

