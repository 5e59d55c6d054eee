import NIOCore
import Testing

@testable import PortcullisHTTP2

/// A client session and a server session talking to each other in memory.
@Suite struct HTTP2SessionExchangeTests {
    @Test func getWithHeaders() throws {
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(
            headers: getRequest(path: "/hello") + headers([("user-agent", "test")]), endStream: true)
        try pair.pump()
        let requests = pair.takeServerEvents().compactMap { event -> [HTTP2Header]? in
            if case .request(streamID, let head, true) = event { return head }
            return nil
        }
        #expect(requests.count == 1)
        #expect(requests.first?.contains(HTTP2Header(name: ":path", value: "/hello")) == true)
        #expect(requests.first?.contains(HTTP2Header(name: "user-agent", value: "test")) == true)

        pair.server.sendResponse(
            streamID: streamID, headers: headers([(":status", "200"), ("content-type", "text/plain")]),
            endStream: false)
        pair.server.sendData(streamID: streamID, ByteBuffer(string: "hello"), endStream: true)
        try pair.pump()
        let events = pair.takeClientEvents()
        guard case .response(streamID, let head, false)? = events.first else {
            Issue.record("no response: \(events)")
            return
        }
        #expect(head.first == HTTP2Header(name: ":status", value: "200"))
        let body = events.compactMap { event -> String? in
            if case .data(streamID, let data, true) = event { return String(buffer: data) }
            return nil
        }
        #expect(body == ["hello"])
        #expect(pair.client.activeStreamCount == 0)
        #expect(pair.server.activeStreamCount == 0)
    }

    @Test func informationalHeadsAreReportedBeforeTheResponse() throws {
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(
            headers: headers([(":method", "POST"), (":scheme", "http"), (":authority", "a"), (":path", "/up"),
                              ("expect", "100-continue")]),
            endStream: false)
        try pair.pump()
        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "100")]), endStream: false)
        try pair.pump()
        let interim = pair.takeClientEvents()
        guard case .informational(streamID, let head)? = interim.first, interim.count == 1 else {
            Issue.record("no informational event: \(interim)")
            return
        }
        #expect(head == headers([(":status", "100")]))
        pair.client.sendData(streamID: streamID, ByteBuffer(string: "body"), endStream: true)
        try pair.pump()
        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "204")]), endStream: true)
        try pair.pump()
        let final = pair.takeClientEvents()
        guard case .response(streamID, let response, true)? = final.first else {
            Issue.record("no final response: \(final)")
            return
        }
        #expect(response.first == HTTP2Header(name: ":status", value: "204"))
    }

    @Test func oneMebibyteBothWaysWithFlowControl() throws {
        let small = HTTP2Settings(initialWindowSize: 16_384, connectionWindowSize: 65_535)
        let pair = try SessionPair(client: small, server: small)
        try pair.pump()  // settle SETTINGS so the small windows are in force
        let size = 1 << 20
        let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })

        let streamID = try pair.client.startRequest(
            headers: headers([(":method", "POST"), (":scheme", "https"), (":authority", "a"), (":path", "/up")]),
            endStream: false)
        pair.client.sendData(streamID: streamID, payload, endStream: true)
        try pair.pump()
        // Nothing consumed yet: the server got at most one stream window and the rest waits in the client.
        var received = ByteBuffer()
        var requestEnded = false
        var unconsumed = 0
        for event in pair.takeServerEvents() {
            if case .data(streamID, var data, let end) = event {
                unconsumed += data.readableBytes
                received.writeBuffer(&data)
                requestEnded = requestEnded || end
            }
        }
        #expect(received.readableBytes <= 16_384)
        #expect(pair.client.bufferedBytes(streamID: streamID) >= size - 16_384)
        #expect(!requestEnded)

        var clientSawWindow = false
        while !requestEnded {
            pair.server.consumed(streamID: streamID, bytes: unconsumed)
            unconsumed = 0
            try pair.pump()
            for event in pair.takeServerEvents() {
                if case .data(streamID, var data, let end) = event {
                    unconsumed += data.readableBytes
                    received.writeBuffer(&data)
                    requestEnded = requestEnded || end
                }
            }
            for event in pair.takeClientEvents() {
                if case .windowAvailable(streamID) = event { clientSawWindow = true }
            }
        }
        #expect(received == payload)
        #expect(clientSawWindow)
        pair.server.consumed(streamID: streamID, bytes: unconsumed)

        // And back: the client gates the server the same way.
        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "200")]), endStream: false)
        pair.server.sendData(streamID: streamID, payload, endStream: true)
        var response = ByteBuffer()
        var responseEnded = false
        var rounds = 0
        while !responseEnded {
            try pair.pump()
            var chunk = 0
            for event in pair.takeClientEvents() {
                if case .data(streamID, var data, let end) = event {
                    chunk += data.readableBytes
                    response.writeBuffer(&data)
                    responseEnded = responseEnded || end
                }
            }
            #expect(chunk <= 65_535)
            pair.client.consumed(streamID: streamID, bytes: chunk)
            rounds += 1
        }
        #expect(response == payload)
        #expect(rounds > 16)  // needed many WINDOW_UPDATEs
        try pair.pump()
        #expect(pair.client.activeStreamCount == 0)
        #expect(pair.server.activeStreamCount == 0)
    }

    @Test func blockedStreamsReportFramedBytesSoStallsCanBeTold() throws {
        // The client's stream window starts at 0: the server can frame nothing until the client consumes.
        let pair = try SessionPair(client: HTTP2Settings(initialWindowSize: 0))
        try pair.pump()
        let streamID = try pair.client.startRequest(headers: getRequest(), endStream: true)
        try pair.pump()
        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "200")]), endStream: false)
        pair.server.sendData(streamID: streamID, ByteBuffer(repeating: 0x61, count: 10_000), endStream: true)
        try pair.pump()
        #expect(pair.server.blockedStreams().map(\.streamID) == [streamID])
        #expect(pair.server.blockedStreams().first?.framedBytes == 0)
        // A WINDOW_UPDATE of 4096 lets that much through: the framed count moves (a slow reader, not a stall).
        let update: [UInt8] = RawFrame(type: 0x8, flags: 0, streamID: streamID, payload: [0, 0, 0x10, 0]).bytes
        _ = try pair.server.receive(ByteBuffer(bytes: update))
        #expect(pair.server.blockedStreams().first?.framedBytes == 4096)
        #expect(pair.server.bufferedBytes(streamID: streamID) == 10_000 - 4096)
    }

    @Test func trailersBothWays() throws {
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(
            headers: headers([
                (":method", "POST"), (":scheme", "http"), (":authority", "grpc"), (":path", "/svc/Method"),
                ("te", "trailers"), ("content-type", "application/grpc"),
            ]), endStream: false)
        pair.client.sendData(streamID: streamID, ByteBuffer(string: "ping"), endStream: false)
        pair.client.sendTrailers(streamID: streamID, headers([("x-checksum", "abc")]))
        try pair.pump()
        let serverEvents = pair.takeServerEvents()
        #expect(serverEvents.contains { if case .request(streamID, _, false) = $0 { true } else { false } })
        #expect(serverEvents.contains {
            if case .data(streamID, let d, false) = $0 { String(buffer: d) == "ping" } else { false }
        })
        #expect(serverEvents.contains {
            if case .trailers(streamID, let t) = $0 { t == headers([("x-checksum", "abc")]) } else { false }
        })

        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "200")]), endStream: false)
        pair.server.sendData(streamID: streamID, ByteBuffer(string: "pong"), endStream: false)
        pair.server.sendTrailers(streamID: streamID, headers([("grpc-status", "0"), ("grpc-message", "ok")]))
        try pair.pump()
        let clientEvents = pair.takeClientEvents()
        #expect(clientEvents.contains {
            if case .data(streamID, let d, false) = $0 { String(buffer: d) == "pong" } else { false }
        })
        #expect(clientEvents.contains {
            if case .trailers(streamID, let t) = $0 { t == headers([("grpc-status", "0"), ("grpc-message", "ok")]) }
            else { false }
        })
        #expect(pair.client.activeStreamCount == 0)
    }

    @Test func trailersWithoutBody() throws {
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(headers: getRequest(), endStream: true)
        try pair.pump()
        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "200")]), endStream: false)
        pair.server.sendTrailers(streamID: streamID, headers([("grpc-status", "14")]))
        try pair.pump()
        let events = pair.takeClientEvents()
        #expect(events.contains { if case .trailers(streamID, _) = $0 { true } else { false } })
        #expect(pair.server.activeStreamCount == 0)
    }

    @Test func streamResetBothWays() throws {
        let pair = try SessionPair()
        let first = try pair.client.startRequest(headers: getRequest(), endStream: false)
        let second = try pair.client.startRequest(headers: getRequest(path: "/2"), endStream: true)
        try pair.pump()
        _ = pair.takeServerEvents()
        #expect(pair.server.activeStreamCount == 2)

        pair.client.resetStream(streamID: first, errorCode: HTTP2ErrorCode.cancel)
        try pair.pump()
        let serverEvents = pair.takeServerEvents()
        #expect(serverEvents.contains {
            if case .streamReset(first, HTTP2ErrorCode.cancel) = $0 { true } else { false }
        })
        #expect(pair.takeClientEvents().isEmpty)  // the client's own reset is not reported back to it

        pair.server.resetStream(streamID: second, errorCode: HTTP2ErrorCode.internalError)
        try pair.pump()
        #expect(pair.takeClientEvents().contains {
            if case .streamReset(second, HTTP2ErrorCode.internalError) = $0 { true } else { false }
        })
        #expect(pair.server.activeStreamCount == 0)
        #expect(pair.client.activeStreamCount == 0)
    }

    @Test func gracefulGoAwayLetsInFlightStreamFinish() throws {
        let pair = try SessionPair()
        let streamID = try pair.client.startRequest(headers: getRequest(), endStream: true)
        try pair.pump()
        _ = pair.takeServerEvents()

        pair.server.goAway()
        try pair.pump()
        #expect(pair.takeClientEvents().contains {
            if case .goAway(streamID, HTTP2ErrorCode.noError) = $0 { true } else { false }
        })
        #expect(throws: HTTP2SessionError.goingAway) {
            try pair.client.startRequest(headers: getRequest(), endStream: true)
        }
        #expect(!pair.server.isClosed)

        pair.server.sendResponse(streamID: streamID, headers: headers([(":status", "204")]), endStream: true)
        try pair.pump()
        #expect(pair.takeClientEvents().contains {
            if case .response(streamID, _, true) = $0 { true } else { false }
        })
        #expect(pair.server.isClosed)
        #expect(pair.client.isClosed)
    }

    @Test func clientRefusesStreamsBeyondServerLimit() throws {
        var serverSettings = HTTP2Settings()
        serverSettings.maxConcurrentStreams = 2
        let pair = try SessionPair(server: serverSettings)
        try pair.pump()
        _ = try pair.client.startRequest(headers: getRequest(), endStream: false)
        _ = try pair.client.startRequest(headers: getRequest(), endStream: false)
        #expect(throws: HTTP2SessionError.streamLimitReached) {
            try pair.client.startRequest(headers: getRequest(), endStream: false)
        }
    }
}
