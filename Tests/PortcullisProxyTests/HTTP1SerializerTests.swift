import NIOCore
import PortcullisProxy
import Testing

@Suite struct HTTP1SerializerTests {
    @Test func requestHeadRoundTrips() throws {
        var headers = HTTPHeaderList()
        headers.add("Host", "api.example")
        headers.add("X-Multi", "a")
        headers.add("x-multi", "b")
        headers.add("Transfer-Encoding", "chunked")
        var buffer = ByteBuffer()
        HTTP1Serializer.writeRequestHead(method: "POST", target: "/p?q=1", headers: headers, into: &buffer)
        var body = ByteBuffer(string: "hello")
        HTTP1Serializer.writeChunk(body, into: &buffer)
        HTTP1Serializer.writeChunk(ByteBuffer(), into: &buffer)
        body = ByteBuffer(string: String(repeating: "z", count: 300))
        HTTP1Serializer.writeChunk(body, into: &buffer)
        HTTP1Serializer.writeLastChunk(trailers: HTTPHeaderList([("X-Checksum", "abc")]), into: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("POST /p?q=1 HTTP/1.1\r\nHost: api.example\r\nX-Multi: a\r\nx-multi: b\r\n"))
        #expect(text.contains("\r\n\r\n5\r\nhello\r\n12c\r\nzzz"))
        #expect(text.hasSuffix("\r\n0\r\nX-Checksum: abc\r\n\r\n"))

        let events = try requestEvents([text])
        guard case .head(let head) = events.first else {
            Issue.record("no head")
            return
        }
        #expect(head.contains("POST /p?q=1 1.1 chunked"))
        #expect(head.contains("[Host: api.example, X-Multi: a, x-multi: b, Transfer-Encoding: chunked]"))
        #expect(events.dropFirst() == [.body("hello" + String(repeating: "z", count: 300)),
                                        .end(trailers: "[X-Checksum: abc]")])
    }

    @Test func responseHeadRoundTrips() throws {
        var buffer = ByteBuffer()
        HTTP1Serializer.writeResponseHead(
            status: 404, reason: nil, headers: HTTPHeaderList([("Content-Length", "2")]), into: &buffer)
        buffer.writeString("no")
        HTTP1Serializer.writeResponseHead(status: 200, reason: "Fine", headers: HTTPHeaderList(), into: &buffer)
        #expect(String(buffer: buffer).hasPrefix("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"))
        let events = try responseEvents([String(buffer: buffer)], close: true)
        #expect(heads(events) == ["404 Not Found 1.1 contentLength(2) ka=true [Content-Length: 2]",
                                  "200 Fine 1.1 untilClose ka=false []"])
    }

    @Test func lastChunkWithoutTrailers() {
        var buffer = ByteBuffer()
        HTTP1Serializer.writeLastChunk(trailers: nil, into: &buffer)
        #expect(String(buffer: buffer) == "0\r\n\r\n")
    }

    /// HARDENING.md §B8 row 3: the encoder never writes CR or LF inside a value, nor a field with a bad name.
    @Test func neverSplitsAMessage() {
        var headers = HTTPHeaderList()
        headers.add("Set-Cookie", "a\r\nX-Injected: 1")
        headers.add("Bad Name", "x")
        headers.add("", "x")
        var buffer = ByteBuffer()
        HTTP1Serializer.writeResponseHead(status: 200, reason: "OK\r\nX: y", headers: headers, into: &buffer)
        #expect(String(buffer: buffer) == "HTTP/1.1 200 OK  X: y\r\nSet-Cookie: a  X-Injected: 1\r\n\r\n")
    }

    @Test func reasonPhrases() {
        #expect(HTTP1Serializer.reasonPhrase(200) == "OK")
        #expect(HTTP1Serializer.reasonPhrase(431) == "Request Header Fields Too Large")
        #expect(HTTP1Serializer.reasonPhrase(799) == "Unknown")
    }
}

@Suite struct HTTPHeaderListTests {
    @Test func lookupsAreCaseInsensitiveAndOrdered() {
        var list = HTTPHeaderList([("Accept", "a"), ("X-A", "1"), ("x-a", "2"), ("Via", "v")])
        #expect(list.first("x-a") == "1")
        #expect(list.joined("x-a") == "1,2")
        #expect(list.joined("missing") == nil)
        #expect(list.contains("via"))
        list.set("X-A", "3")
        #expect(list.count == 3)
        #expect(list[1].name == "X-A" && list[1].value == "3")
        list.set("New", "n")
        #expect(list[3].name == "New")
        list.remove("accept")
        #expect(!list.contains("accept"))
        list.removeAll { name, _ in name == "Via" }
        #expect(list.map(\.name) == ["X-A", "New"])
    }
}
