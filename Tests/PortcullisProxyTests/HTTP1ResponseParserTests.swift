import NIOCore
import PortcullisProxy
import Testing

/// Feeds `pieces` into a response parser primed for `method`, then optionally reports the close.
func responseEvents(
    _ pieces: [String], method: String = "GET", close: Bool = false
) throws(HTTP1ParseError) -> [HTTP1TestEvent] {
    var parser = HTTP1ResponseParser()
    parser.expectResponse(toMethod: method)
    var buffer = ByteBuffer()
    var events: [HTTP1TestEvent] = []
    func record(_ event: HTTP1Event<HTTP1ResponseHead>) {
        switch event {
        case .head(let head): events.append(.response(head))
        case .body(let slice): appendBody(slice, to: &events)
        case .end(let trailers): events.append(.end(trailers: trailers.map { "\($0)" }))
        }
    }
    for piece in pieces {
        buffer.writeString(piece)
        while let event = try parser.next(&buffer) { record(event) }
    }
    if close, let event = try parser.connectionClosed() { record(event) }
    return events
}

/// The status line and framing of every head in `events`.
func heads(_ events: [HTTP1TestEvent]) -> [String] {
    events.compactMap { event in
        guard case .head(let text) = event else { return nil }
        return text
    }
}

@Suite struct HTTP1ResponseParserTests {
    @Test func contentLengthResponse() throws {
        let events = try responseEvents(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello"])
        #expect(
            events == [
                .head("200 OK 1.1 contentLength(5) ka=true [Content-Length: 5, Server: x]"), .body("hello"),
                .end(trailers: nil),
            ])
    }

    @Test func headResponseHasNoBody() throws {
        let message = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        var parser = HTTP1ResponseParser()
        var buffer = ByteBuffer(string: message)
        parser.expectResponse(toMethod: "HEAD")
        guard case .head(let head)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.framing == .none)
        guard case .end? = try parser.next(&buffer) else {
            Issue.record("no end")
            return
        }
        parser.expectResponse(toMethod: "GET")
        guard case .head(let next)? = try parser.next(&buffer) else {
            Issue.record("second response not parsed")
            return
        }
        #expect(next.status == 404)
    }

    @Test(arguments: [204, 304])
    func noBodyStatuses(status: Int) throws {
        let message = "HTTP/1.1 \(status) X\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let events = try responseEvents([message])
        #expect(events.count == 4)
        #expect(events[1] == .end(trailers: nil))
        #expect(heads(events)[1].hasPrefix("200 OK"))
    }

    @Test func continueThenFinalResponse() throws {
        let message = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        for pieces in splits(message) {
            let events = try responseEvents(pieces, method: "POST")
            #expect(
                events == [
                    .head("100 Continue 1.1 none ka=true []"),
                    .head("201 Created 1.1 contentLength(2) ka=true [Content-Length: 2]"),
                    .body("ok"), .end(trailers: nil),
                ])
        }
    }

    @Test func interimStormIsRefused() {
        let storm = String(repeating: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", count: 17)
        #expect(throws: HTTP1ParseError.self) { try responseEvents([storm]) }
    }

    @Test func switchingProtocolsEndsParsing() throws {
        var parser = HTTP1ResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{0}")
        parser.expectResponse(toMethod: "GET")
        guard case .head(let head)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.status == 101)
        #expect(!head.keepAlive)
        guard case .end? = try parser.next(&buffer) else {
            Issue.record("no end")
            return
        }
        #expect(try parser.next(&buffer) == nil)
        #expect(buffer.readableBytes == 3)
        #expect(try parser.connectionClosed() == nil)
    }

    @Test func connectSuccessBecomesATunnel() throws {
        var parser = HTTP1ResponseParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\nraw bytes")
        parser.expectResponse(toMethod: "CONNECT")
        _ = try parser.next(&buffer)
        guard case .end? = try parser.next(&buffer) else {
            Issue.record("no end")
            return
        }
        #expect(try parser.next(&buffer) == nil)
        #expect(String(buffer: buffer) == "raw bytes")
    }

    @Test func untilCloseBodyEndsAtClose() throws {
        let events = try responseEvents(["HTTP/1.1 200 OK\r\n\r\npart one ", "part two"], close: true)
        #expect(
            events == [.head("200 OK 1.1 untilClose ka=false []"), .body("part one part two"), .end(trailers: nil)])
    }

    @Test func truncatedBodiesAreErrors() {
        #expect(throws: HTTP1ParseError.self) {
            try responseEvents(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], close: true)
        }
        #expect(throws: HTTP1ParseError.self) {
            try responseEvents(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"], close: true)
        }
        #expect(throws: HTTP1ParseError.self) { try responseEvents(["HTTP/1.1 200 OK\r\nX: "], close: true) }
    }

    @Test func chunkedResponseWithTrailers() throws {
        let message = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n"
        for pieces in splits(message) {
            let events = try responseEvents(pieces)
            #expect(events.dropFirst() == [.body("abc"), .end(trailers: "[grpc-status: 0]")])
        }
    }

    @Test func http10AndConnectionClose() throws {
        let events = try responseEvents(["HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"])
        #expect(heads(events) == ["200 OK 1.0 contentLength(0) ka=false [Content-Length: 0]"])
        let kept = try responseEvents(["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"])
        #expect(heads(kept).first?.contains("ka=true") == true)
        let closed = try responseEvents(["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"])
        #expect(heads(closed).first?.contains("ka=false") == true)
    }

    @Test func tolerantStatusLines() throws {
        let bare = try responseEvents(["HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"])
        #expect(heads(bare).first?.hasPrefix("200  ") == true)
        #expect(heads(try responseEvents(["HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"])).count == 1)
        let latin1 = try responseEvents(["HTTP/1.1 200 Okay \u{E9}t\u{E9}\r\nContent-Length: 0\r\n\r\n"])
        #expect(heads(latin1).count == 1)
    }

    /// HARDENING.md §B8 rows 1-3 and 8: ambiguous or dangerous responses are refused (the proxy answers 502).
    static let hostile: [HTTP1HardeningTests.Case] = [
        .init(
            name: "CL+TE", bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            status: 400),
        .init(name: "two CL", bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", status: 400),
        .init(name: "CL list", bytes: "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n", status: 400),
        .init(name: "CL abc", bytes: "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", status: 400),
        .init(name: "TE gzip", bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400),
        .init(
            name: "chunk overflow",
            bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", status: 400),
        .init(name: "bare CR split", bytes: "HTTP/1.1 200 OK\r\nSet-Cookie: a\rX-Injected: 1\r\n\r\n", status: 400),
        .init(name: "NUL", bytes: "HTTP/1.1 200 OK\r\nSet-Cookie: a\u{0}b\r\n\r\n", status: 400),
        .init(name: "obs-fold", bytes: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", status: 400),
        .init(name: "bare LF", bytes: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", status: 400),
        .init(name: "HTTP/2", bytes: "HTTP/2 200 OK\r\n\r\n", status: 400),
        .init(name: "two-digit status", bytes: "HTTP/1.1 20 OK\r\n\r\n", status: 400),
        .init(name: "status 600", bytes: "HTTP/1.1 600 Odd\r\n\r\n", status: 400),
        .init(name: "control in reason", bytes: "HTTP/1.1 200 O\u{1}K\r\n\r\n", status: 400),
        .init(
            name: "304 with CL+TE",
            bytes: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            status: 400),
        .init(
            name: "61 KiB head",
            bytes: "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 61 * 1024) + "\r\n\r\n", status: 431),
    ]

    @Test(arguments: Self.hostile)
    func rejects(_ testCase: HTTP1HardeningTests.Case) {
        #expect(throws: HTTP1ParseError.self) { try responseEvents([testCase.bytes]) }
        do {
            _ = try responseEvents([testCase.bytes])
        } catch {
            #expect(error.status == testCase.status)
        }
    }
}
