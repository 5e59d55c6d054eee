import Foundation
import Testing

/// The framing cases of `FramingIntegrationTests` and HARDENING §B1/§B8, run against an HTTP/2 upstream (the
/// Python `h2` origin on a `protocol: HTTP2` ServiceEntry port): ambiguous HTTP/1.1 requests never reach it,
/// request bodies arrive framed by HTTP/2 alone, responses reach HTTP/1.1 clients with exactly one correct framing
/// (content-length, chunked, none for HEAD/204/304, even when the origin wrongly sends a body), `100 Continue`
/// is relayed, and malformed upstream responses never reach the client's HTTP/1 encoder.
@Suite(.serialized)
struct HTTP2UpstreamFramingIntegrationTests {
    static let available = HTTP2UpstreamIntegrationTests.available

    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let origin: PythonPeer
        var base: String { "http://127.0.0.1:\(self.port)" }

        /// "METHOD PATH" of every request head the origin received.
        var originRequests: [String] {
            self.origin.output.split(separator: "\n").filter { $0.hasPrefix("request ") }
                .map { String($0.dropFirst("request ".count)) }
        }
    }

    private func start() async throws -> Setup {
        let origin = try await PythonPeer(script: "h2_backend.py", arguments: ["--name", "h2origin"])
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": HTTP2UpstreamIntegrationTests.serviceEntry(
                name: "h2", host: "h2.internal", port: origin.port, protocolName: "HTTP2"),
            "vs.yaml": HTTP2UpstreamIntegrationTests.routes([("/", "h2.internal")]),
        ])
        try await gateway.waitUntilReady()
        return Setup(gateway: gateway, port: port, origin: origin)
    }

    @Test(.enabled(if: available)) func ambiguousRequestsNeverReachTheHTTP2Upstream() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        for (name, request, status) in FramingIntegrationTests.cases {
            let response = try RawClient.exchange(port: setup.port, bytes: request)
            #expect(response.hasPrefix("HTTP/1.1 \(status) "), "\(name): got \(response.prefix(40))")
            #expect(response.components(separatedBy: "HTTP/1.1 ").count == 2, "\(name): more than one response")
        }
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 70 * 1024) + "\r\n\r\n"
        #expect(try RawClient.exchange(port: setup.port, bytes: big).hasPrefix("HTTP/1.1 431 "))
        #expect(setup.originRequests.isEmpty, "the origin received \(setup.originRequests)")
        // The route works: a valid request is the first and only one the origin sees.
        #expect(try Curl.get("\(setup.base)/valid").status == 200)
        #expect(setup.originRequests == ["GET /valid"])
    }

    /// Requests pipelined on one HTTP/1.1 connection; the last one closes it.
    private static func pipeline(_ requests: [(method: String, path: String)], extra: String = "") -> String {
        requests.enumerated().map { index, request in
            let close = index == requests.count - 1 ? "Connection: close\r\n" : ""
            return "\(request.method) \(request.path) HTTP/1.1\r\nHost: shop.example.com\r\n\(extra)\(close)\r\n"
        }.joined()
    }

    @Test(.enabled(if: available)) func responsesReachHTTP1ClientsWithOneCorrectFraming() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let requests: [(method: String, path: String)] = [
            ("GET", "/bytes/5"), ("GET", "/stream/2500"), ("HEAD", "/head"), ("GET", "/status/204"),
            ("GET", "/status/304"), ("GET", "/last"),
        ]
        let raw = try RawClient.exchange(port: setup.port, bytes: Self.pipeline(requests))
        let responses = try HTTP1ResponseStream.parse(Array(raw.utf8), methods: requests.map(\.method))
        try #require(responses.count == requests.count, "\(raw)")
        let (sized, streamed, head, noContent, notModified, last) =
            (responses[0], responses[1], responses[2], responses[3], responses[4], responses[5])
        // HTTP/2 has no reason phrase; HTTP/1.1 clients get the standard one.
        #expect(sized.statusLine == "HTTP/1.1 200 OK", "\(sized.statusLine)")
        #expect(noContent.statusLine == "HTTP/1.1 204 No Content", "\(noContent.statusLine)")
        #expect(sized.status == 200 && sized.bodyText == "xxxxx")
        #expect(sized.header("content-length") == "5" && sized.header("transfer-encoding") == nil)
        // No content-length from the origin: chunked toward HTTP/1.1.
        #expect(streamed.header("transfer-encoding") == "chunked" && streamed.header("content-length") == nil)
        #expect(streamed.body == Array(repeating: UInt8(ascii: "s"), count: 2500))
        // HEAD keeps the GET's content-length and has no body.
        #expect(head.status == 200 && Int(head.header("content-length") ?? "") ?? 0 > 0, "\(head)")
        #expect(head.header("transfer-encoding") == nil)
        #expect(noContent.status == 204 && noContent.header("content-length") == nil, "\(noContent)")
        #expect(noContent.header("transfer-encoding") == nil)
        #expect(notModified.status == 304 && notModified.header("transfer-encoding") == nil)
        #expect(last.status == 200 && last.bodyText.contains("\"path\": \"/last\""), "\(last.bodyText)")

        // An origin that sends a body where none belongs (HEAD, 204, 304): nghttp2 treats the DATA as a protocol
        // error and resets the stream. The head already produced is delivered, then the connection closes; the
        // body bytes never reach the client, where they would be read as the next response (HARDENING §B8.7).
        for (method, path) in [("HEAD", "/head"), ("GET", "/status/204"), ("GET", "/status/304")] {
            let raw = try RawClient.exchange(
                port: setup.port,
                bytes: Self.pipeline([(method, path), ("GET", "/last")], extra: "x-misbehave: body\r\n"))
            let responses = try HTTP1ResponseStream.parse(Array(raw.utf8), methods: [method, "GET"])
            #expect(!raw.contains("unexpected body") && !raw.contains("\"path\": \"/head\""), "\(path): \(raw)")
            try #require(responses.count >= 1, "\(path): \(raw)")
            #expect(responses[0].status == (path == "/head" ? 200 : Int(path.suffix(3))), "\(path): \(raw)")
            #expect(responses[0].body.isEmpty)
            if responses.count == 2 { #expect(responses[1].bodyText.contains("/last"), "\(path): \(raw)") }
        }
        // HTTP/2 clients: HEAD and 204 arrive without DATA; with the misbehaving origin, no DATA either (the
        // stream is reset instead).
        for misbehave in [false, true] {
            for path in ["/head", "/status/204"] {
                let (code, out, _) = try Command.run(
                    "/usr/bin/curl",
                    ["-s", "--max-time", "10", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                     "%{http_code} %{size_download}"] + (misbehave ? ["-H", "x-misbehave: body"] : [])
                        + (path == "/head" ? ["-I"] : []) + ["\(setup.base)\(path)"])
                if misbehave {
                    #expect(out.hasSuffix(" 0"), "\(path): \(out)")
                } else {
                    #expect(code == 0)
                    #expect(out == (path == "/head" ? "200 0" : "204 0"), "\(path): \(out)")
                }
            }
        }
    }

    @Test(.enabled(if: available)) func requestBodiesArriveFramedByHTTP2Alone() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let request = "POST /sized HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
            + "POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            + "GET /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let raw = try RawClient.exchange(port: setup.port, bytes: request)
        let responses = try HTTP1ResponseStream.parse(Array(raw.utf8), methods: ["POST", "POST", "GET"])
        try #require(responses.count == 3)
        let echoes = try responses.map { try HTTP2UpstreamIntegrationTests.json($0.bodyText) }
        let headers = echoes.map(HTTP2UpstreamIntegrationTests.headers)
        #expect(echoes.map { $0["bodyLength"] as? Int } == [11, 11, 0])
        #expect(headers[0]["content-length"] == ["11"])
        // A chunked request has no length to announce: no content-length, and never transfer-encoding.
        #expect(headers[1]["content-length"] == nil && headers[1]["transfer-encoding"] == nil, "\(headers[1])")
        #expect(headers[2]["content-length"] == nil && headers[2]["transfer-encoding"] == nil, "\(headers[2])")
        #expect(setup.originRequests == ["POST /sized", "POST /chunked", "GET /empty"])
    }

    @Test(.enabled(if: available)) func expectContinueIsRelayedFromTheHTTP2Upstream() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("h2-expect-\(UUID())")
        defer { try? FileManager.default.removeItem(at: upload) }
        try Data(repeating: 0x61, count: 100_000).write(to: upload)
        for flags in [[String](), ["--http2-prior-knowledge"]] {
            let dump = FileManager.default.temporaryDirectory.appendingPathComponent("h2-expect-\(UUID()).txt")
            defer { try? FileManager.default.removeItem(at: dump) }
            // curl waits up to 10 s for the 100 before sending the body anyway: a quick answer proves the
            // origin's 100 came through the gateway.
            let started = ContinuousClock.now
            let (code, body, _) = try Command.run(
                "/usr/bin/curl",
                ["-s", "--max-time", "20", "--expect100-timeout", "10", "-D", dump.path, "-H", "Expect: 100-continue",
                 "--data-binary", "@\(upload.path)"] + flags + ["\(setup.base)/expect"])
            let took = ContinuousClock.now - started
            #expect(code == 0)
            #expect(took < .seconds(5), "\(flags): no 100 relayed, curl waited \(took)")
            let dumped = try String(contentsOf: dump, encoding: .utf8)
            #expect(dumped.hasPrefix(flags.isEmpty ? "HTTP/1.1 100" : "HTTP/2 100"), "\(flags): \(dumped)")
            #expect(try HTTP2UpstreamIntegrationTests.json(body)["bodyLength"] as? Int == 100_000)
        }
    }

    @Test(.enabled(if: available)) func malformedUpstreamResponsesNeverReachTheClient() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        // Connection-specific or upper-case field names and CR LF in a value are malformed in HTTP/2: the
        // gateway's nghttp2 client resets the stream, and the client gets a local error reply.
        for misbehave in ["connection", "uppercase", "crlf"] {
            let reply = try Curl.get("\(setup.base)/bad", ["-H", "x-misbehave: \(misbehave)"])
            #expect(reply.status == 502 || reply.status == 503, "\(misbehave): \(reply.status) \(reply.body)")
            #expect(reply.header("x-injected") == nil && reply.header("x-upper") == nil, "\(misbehave)")
            #expect(reply.header("x-backend") == nil, "\(misbehave): the bad head was relayed")
        }
        // A body longer than its content-length: never relayed as a complete response with the extra bytes.
        let raw = try RawClient.exchange(
            port: setup.port,
            bytes: "GET /cl HTTP/1.1\r\nHost: a\r\nx-misbehave: cl-mismatch\r\n\r\n"
                + "GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(!raw.contains("mmmmmmmmmmm"), "bytes beyond content-length reached the client: \(raw)")
        // 20 interim 103 heads: more than the 16 an HTTP/1.1 upstream may send (HARDENING §B8.6), so the same
        // protocol-error reply as for an HTTP/1.1 upstream.
        let early = try Curl.get("\(setup.base)/early", ["-H", "x-misbehave: informational"])
        #expect(early.status == 502 || early.status == 503, "\(early.status) \(early.body)")
        #expect(early.body.hasSuffix("reset reason: protocol error"), "\(early.body)")
        // The upstream connection survived every stream reset: a normal request still works.
        #expect(try Curl.get("\(setup.base)/fine").status == 200)
    }
}
