import NIOCore
import PortcullisProxy
import Testing

/// A parser event reduced to comparable values, so event sequences from different feedings can be compared.
enum HTTP1TestEvent: Equatable, CustomStringConvertible {
    case head(String)
    case body(String)
    case end(trailers: String?)

    var description: String {
        switch self {
        case .head(let text): "head(\(text))"
        case .body(let text): "body(\(text.debugDescription))"
        case .end(let trailers): "end(\(trailers ?? "nil"))"
        }
    }

    static func request(_ head: HTTP1RequestHead) -> HTTP1TestEvent {
        .head(
            "\(head.method) \(head.target) 1.\(head.minorVersion) \(head.framing) ka=\(head.keepAlive) "
                + "up=\(head.isUpgrade) ec=\(head.expectContinue) host=\(head.host ?? "nil") \(head.headers)")
    }

    static func response(_ head: HTTP1ResponseHead) -> HTTP1TestEvent {
        .head(
            "\(head.status) \(head.reason) 1.\(head.minorVersion) \(head.framing) ka=\(head.keepAlive) "
                + "\(head.headers)")
    }
}

/// Feeds `pieces` one after another into a request parser and collects the events, merging adjacent body slices
/// (how a body is sliced depends on how the bytes arrived).
func requestEvents(
    _ pieces: [String], limits: HTTP1Limits = HTTP1Limits()
) throws(HTTP1ParseError) -> [HTTP1TestEvent] {
    var parser = HTTP1RequestParser(limits: limits)
    var buffer = ByteBuffer()
    var events: [HTTP1TestEvent] = []
    for piece in pieces {
        buffer.writeString(piece)
        while let event = try parser.next(&buffer) {
            switch event {
            case .head(let head): events.append(.request(head))
            case .body(let slice): appendBody(slice, to: &events)
            case .end(let trailers): events.append(.end(trailers: trailers.map { "\($0)" }))
            }
        }
    }
    return events
}

func appendBody(_ slice: ByteBuffer, to events: inout [HTTP1TestEvent]) {
    let text = String(buffer: slice)
    if case .body(let previous) = events.last {
        events[events.count - 1] = .body(previous + text)
    } else {
        events.append(.body(text))
    }
}

/// Every way of cutting `message` in two, plus one byte at a time.
func splits(_ message: String) -> [[String]] {
    let bytes = Array(message.utf8)
    var result: [[String]] = (1..<bytes.count).map { cut in
        [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
    }
    result.append(bytes.map { String(decoding: [$0], as: UTF8.self) })
    return result
}

/// The status of the error the request parser reports for `message`, or nil if it parses.
func requestErrorStatus(_ message: String) -> Int? {
    do {
        _ = try requestEvents([message])
        return nil
    } catch {
        return error.status
    }
}

@Suite struct HTTP1RequestParserTests {
    @Test func parsesSimpleGet() throws {
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer(string: "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Test:  v  \r\n\r\n")
        guard case .head(let head)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.method == "GET")
        #expect(head.target == "/a?b=1")
        #expect(head.minorVersion == 1)
        #expect(head.targetForm == .origin)
        #expect(head.host == "example.com")
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(head.headers.first("x-test") == "v")
        #expect(head.headers[1].name == "X-Test")
        #expect(!parser.isIdle)
        guard case .end(let trailers)? = try parser.next(&buffer) else {
            Issue.record("no end")
            return
        }
        #expect(trailers == nil)
        #expect(parser.isIdle)
        #expect(buffer.readableBytes == 0)
        #expect(try parser.next(&buffer) == nil)
    }

    @Test func contentLengthBodyIsStreamedAsSlices() throws {
        let body = String(repeating: "x", count: 100_000)
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n")
        guard case .head(let head)? = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.framing == .contentLength(100_000))
        var received = 0
        var bodyEvents = 0
        var ended = false
        var offset = 0
        while offset < body.utf8.count {
            let piece = min(16_384, body.utf8.count - offset)
            buffer.writeString(String(repeating: "x", count: piece))
            offset += piece
            while let event = try parser.next(&buffer) {
                switch event {
                case .head: Issue.record("second head")
                case .body(let slice):
                    received += slice.readableBytes
                    bodyEvents += 1
                case .end: ended = true
                }
            }
        }
        #expect(received == 100_000)
        #expect(bodyEvents == 7)
        #expect(ended)
        #expect(parser.isIdle)
    }

    @Test func chunkedBodyWithTrailers() throws {
        let message =
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n1;name=\"v\"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: 42\r\nX-B: b\r\n\r\n"
        let events = try requestEvents([message])
        #expect(events.count == 3)
        #expect(events[1] == .body("hello 0123456789"))
        #expect(events[2] == .end(trailers: "[X-Sum: 42, X-B: b]"))
    }

    @Test func chunkedBodyWithoutTrailersEndsWithNil() throws {
        let message = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        let events = try requestEvents([message])
        #expect(events.dropFirst() == [.body("abc"), .end(trailers: nil)])
    }

    static let messages: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nT: 1\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n",
        "\r\nGET http://h.example:8080/x HTTP/1.0\r\nHost: other\r\nConnection: keep-alive\r\n\r\n",
    ]

    @Test(arguments: Self.messages)
    func everySplitGivesTheSameEvents(message: String) throws {
        let whole = try requestEvents([message])
        #expect(!whole.isEmpty)
        for pieces in splits(message) {
            #expect(try requestEvents(pieces) == whole, "split \(pieces.map(\.utf8.count))")
        }
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let message =
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
            + "GET /c HTTP/1.1\r\nHost: a\r\n\r\n"
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer(string: message)
        var targets: [String] = []
        var bodies: [String] = []
        var ends = 0
        while let event = try parser.next(&buffer) {
            switch event {
            case .head(let head): targets.append(head.target)
            case .body(let slice): bodies.append(String(buffer: slice))
            case .end: ends += 1
            }
        }
        #expect(targets == ["/a", "/b", "/c"])
        #expect(bodies == ["xyz"])
        #expect(ends == 3)
        #expect(parser.isIdle)
    }

    @Test func connectionSemantics() throws {
        func head(_ text: String) throws -> HTTP1RequestHead {
            var parser = HTTP1RequestParser()
            var buffer = ByteBuffer(string: text)
            guard case .head(let head)? = try parser.next(&buffer) else { throw HTTP1ParseError(status: 0, reason: "") }
            return head
        }
        #expect(try !head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, close\r\n\r\n").keepAlive)
        #expect(try !head("GET / HTTP/1.0\r\n\r\n").keepAlive)
        #expect(try head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive)
        #expect(try head("GET / HTTP/1.0\r\n\r\n").host == nil)
        let upgrade = try head("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(upgrade.isUpgrade)
        #expect(try !head("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").isUpgrade)
        let expect = try head("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
        #expect(expect.expectContinue)
        #expect(requestErrorStatus("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n") == 417)
        let absolute = try head("GET HTTP://api.example:81/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n")
        #expect(absolute.targetForm == .absolute(scheme: "http", authority: "api.example:81"))
        #expect(absolute.host == "api.example:81")
        #expect(absolute.headers.joined("host") == "api.example:81")
        #expect(try head("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n").targetForm == .authority)
        #expect(try head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").targetForm == .asterisk)
        #expect(try head("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").host == "[::1]:8080")
        #expect(try head("GET / HTTP/1.1\r\nHost:\r\n\r\n").host == "")
        #expect(try head("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method == "M-SEARCH")
    }

    @Test func errorsAreSticky() throws {
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\nHost: a\r\n\r\n")
        #expect(throws: HTTP1ParseError.self) { try parser.next(&buffer) }
        var fresh = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(throws: HTTP1ParseError.self) { try parser.next(&fresh) }
        #expect(!parser.isIdle)
    }

    @Test func headerLimitsGive431() {
        var limits = HTTP1Limits()
        limits.maxHeaderCount = 3
        let four = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(throws: HTTP1ParseError(status: 431, reason: "too many header fields")) {
            try requestEvents([four], limits: limits)
        }
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 61 * 1024) + "\r\n\r\n"
        #expect(requestErrorStatus(big) == 431)
        // Without a terminator the parser gives up as soon as the limit is passed.
        #expect(throws: HTTP1ParseError.self) {
            try requestEvents(["GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 70 * 1024)])
        }
    }
}
