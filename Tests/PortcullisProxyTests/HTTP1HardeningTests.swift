import NIOCore
import PortcullisProxy
import Testing

/// HARDENING.md §B1: every hostile request framing case that the parser itself must refuse.
@Suite struct HTTP1HardeningTests {
    static let head = "POST / HTTP/1.1\r\nHost: a\r\n"

    /// A rejected case: the bytes and the status the parser must report.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: String
        var status: Int
        var testDescription: String { self.name }
    }

    static func bad(_ name: String, _ bytes: String, _ status: Int = 400) -> Case {
        Case(name: name, bytes: bytes, status: status)
    }

    /// Rows 1-3: CL with TE in either order, and every TE obfuscation.
    static let transferEncoding: [Case] = [
        bad("CL.TE", head + "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin"),
        bad("TE.CL", head + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nG"),
        bad("chunked, identity", head + "Transfer-Encoding: chunked, identity\r\n\r\n"),
        bad("xchunked", head + "Transfer-Encoding: xchunked\r\n\r\n"),
        bad("trailing tab", head + "Transfer-Encoding: chunked\t\r\n\r\n"),
        bad("space before colon", head + "Transfer-Encoding : chunked\r\n\r\n"),
        bad("leading tab", head + "Transfer-Encoding:\tchunked\r\n\r\n"),
        bad("two TE lines", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        bad("chunked, chunked", head + "Transfer-Encoding: chunked, chunked\r\n\r\n"),
        bad("chunked, gzip", head + "Transfer-Encoding: chunked, gzip\r\n\r\n"),
        bad("gzip, chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n"),
        bad("identity", head + "Transfer-Encoding: identity\r\n\r\n"),
        bad("empty TE", head + "Transfer-Encoding:\r\n\r\n"),
        bad("HTTP/1.0 with TE", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ]

    /// Rows 4-5: duplicate and malformed Content-Length.
    static let contentLength: [Case] = [
        bad("6 then 7", head + "Content-Length: 6\r\nContent-Length: 7\r\n\r\n"),
        bad("6, 7", head + "Content-Length: 6, 7\r\n\r\n"),
        bad("6, 6", head + "Content-Length: 6, 6\r\n\r\n"),
        bad("identical lines", head + "Content-Length: 6\r\nContent-Length: 6\r\n\r\n"),
        bad("empty", head + "Content-Length:\r\n\r\n"),
        bad("plus", head + "Content-Length: +6\r\n\r\n"),
        bad("hex", head + "Content-Length: 0x6\r\n\r\n"),
        bad("inner space", head + "Content-Length: 6 6\r\n\r\n"),
        bad("suffix", head + "Content-Length: 6abc\r\n\r\n"),
        bad("20 digits", head + "Content-Length: 12345678901234567890\r\n\r\n"),
        bad("19 digits", head + "Content-Length: 1234567890123456789\r\n\r\n"),
        bad("negative", head + "Content-Length: -1\r\n\r\n"),
    ]

    /// Rows 6-7: chunk-size abuse and extension amplification.
    static let chunks: [Case] = {
        let te = head + "Transfer-Encoding: chunked\r\n\r\n"
        return [
            bad("0x prefix", te + "0x5\r\nhello\r\n0\r\n\r\n"),
            bad("plus", te + "+5\r\nhello\r\n0\r\n\r\n"),
            bad("negative", te + "-5\r\nhello\r\n0\r\n\r\n"),
            bad("LF inside extension", te + "5 ;ext\nx\r\nhello\r\n0\r\n\r\n"),
            bad("overflow", te + "FFFFFFFFFFFFFFFFF1\r\nx\r\n"),
            bad("17 hex digits", te + "00000000000000005\r\nhello\r\n0\r\n\r\n"),
            bad("16 hex digits beyond Int", te + "FFFFFFFFFFFFFFFF\r\nx\r\n"),
            bad("empty size", te + "\r\nhello\r\n0\r\n\r\n"),
            bad("space without extension", te + "5 \r\nhello\r\n0\r\n\r\n"),
            bad("control in extension", te + "5;a=\u{01}\r\nhello\r\n0\r\n\r\n"),
            bad("missing CRLF after data", te + "5\r\nhelloX\r\n0\r\n\r\n"),
            bad("data longer than size", te + "3\r\nhello\r\n0\r\n\r\n"),
            bad("long extension", te + "1;" + String(repeating: "a", count: 5000) + "\r\nx\r\n0\r\n\r\n"),
            bad(
                "extension amplification",
                te + String(repeating: "1;" + String(repeating: "a", count: 4000) + "\r\nx\r\n", count: 20)),
            bad("bare LF after last chunk", te + "0\r\n\n"),
            bad("bare LF in trailer", te + "0\r\nX: y\n\r\n"),
            bad("obs-fold in trailer", te + "0\r\nX: y\r\n z\r\n\r\n"),
            bad("Content-Length in trailer", te + "0\r\nContent-Length: 5\r\n\r\n"),
            bad("Transfer-Encoding in trailer", te + "0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ]
    }()

    /// Rows 8-11: line terminators, obs-fold, header names and values.
    static let lines: [Case] = [
        bad("bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n"),
        bad("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n"),
        bad("bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n"),
        bad("bare CR line end", "GET / HTTP/1.1\rHost: a\r\n\r\n"),
        bad("bare CR inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
        bad("bare LF inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n"),
        bad("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
        bad("obs-fold of TE", head + "Transfer-Encoding:\r\n chunked\r\n\r\n"),
        bad("tab fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"),
        bad("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"),
        bad("space in name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: x\r\n\r\n"),
        bad("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\u{0}Y: x\r\n\r\n"),
        bad("paren in name", "GET / HTTP/1.1\r\nHost: a\r\nX(Y): x\r\n\r\n"),
        bad("no colon", "GET / HTTP/1.1\r\nHost: a\r\nXY\r\n\r\n"),
        bad("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n"),
        bad("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}b\r\n\r\n"),
        bad("escape in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1B}b\r\n\r\n"),
        bad("first header folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
    ]

    /// Rows 16-17: request-line abuse, versions and Host.
    static let requestLine: [Case] = [
        bad("double SP", "GET  /  HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("trailing token", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"),
        bad("trailing SP", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
        bad("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        bad("HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505),
        bad("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        bad("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n"),
        bad("garbage version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n"),
        bad("no version", "GET /\r\nHost: a\r\n\r\n"),
        bad("lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("mixed-case method", "Get / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("8 KiB method", String(repeating: "G", count: 8200) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        bad("method with slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("control in target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("non-ASCII target", "GET /\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("ftp absolute-form", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("absolute-form with userinfo", "GET http://u@a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("absolute-form without host", "GET http:///b HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("asterisk on GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("CONNECT without port", "CONNECT a.example HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        bad("CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"),
        bad("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        bad("duplicate identical Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
        bad("missing Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n"),
        bad("Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n"),
        bad("Host with path", "GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n"),
        bad("Host with inner space", "GET / HTTP/1.1\r\nHost: a .example\r\n\r\n"),
        bad("Host with bad port", "GET / HTTP/1.1\r\nHost: a.example:8o\r\n\r\n"),
        bad("Host with empty host", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n"),
    ]

    @Test(arguments: Self.transferEncoding + Self.contentLength + Self.chunks + Self.lines + Self.requestLine)
    func rejects(_ testCase: Case) {
        #expect(requestErrorStatus(testCase.bytes) == testCase.status)
    }

    /// The same cases fed one byte at a time fail the same way: no bytes are ever accepted that a whole-buffer
    /// parse would refuse.
    @Test(arguments: Self.transferEncoding + Self.contentLength + Self.chunks + Self.lines)
    func rejectsWhenFedByteByByte(_ testCase: Case) {
        let pieces = testCase.bytes.utf8.map { String(decoding: [$0], as: UTF8.self) }
        #expect(throws: HTTP1ParseError.self) { try requestEvents(pieces) }
    }

    /// Row 11: whitespace around values is trimmed so routing and authorization see the same host.
    @Test func valuesAreTrimmed() throws {
        let events = try requestEvents(["GET / HTTP/1.1\r\nHost: \t admin.example.com \t\r\n\r\n"])
        guard case .head(let text) = events.first else {
            Issue.record("no head")
            return
        }
        #expect(text.contains("host=admin.example.com [Host: admin.example.com]"))
    }

    /// Row 12: an Upgrade request without a body is complete after its head; extra bytes are the next request,
    /// parsed and authorized like any other, until the proxy sees a 101 and switches to tunnelling.
    @Test func upgradeDoesNotSwallowThePipelinedRequest() throws {
        let message =
            "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
            + "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
        let events = try requestEvents([message])
        #expect(events.count == 4)
        guard case .head(let second) = events[2] else {
            Issue.record("no second head")
            return
        }
        #expect(second.hasPrefix("GET /admin"))
    }

    /// Row 13: HTTP/1.0 requests parse (the proxy answers 426 itself) but never carry a close-delimited body.
    @Test func http10WithoutLengthHasNoBody() throws {
        let events = try requestEvents(["POST / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n"])
        #expect(events.count == 4)
        #expect(events[1] == .end(trailers: nil))
    }

    /// Request header values must be UTF-8: obs-text that is not UTF-8 is refused rather than repaired.
    @Test func invalidUTF8ValueIsRejected() {
        var parser = HTTP1RequestParser()
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nX: ")
        buffer.writeBytes([0xFF, 0xFE])
        buffer.writeString("\r\n\r\n")
        #expect(throws: HTTP1ParseError.self) { try parser.next(&buffer) }
        var latin = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{E9}\r\n\r\n")
        var fresh = HTTP1RequestParser()
        #expect(throws: Never.self) { try fresh.next(&latin) }
    }

    /// Leading empty lines are skipped (RFC 9112 §2.2) but a bare LF there is still refused.
    @Test func leadingEmptyLines() throws {
        #expect(try requestEvents(["\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"]).count == 2)
        #expect(requestErrorStatus("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
    }
}
