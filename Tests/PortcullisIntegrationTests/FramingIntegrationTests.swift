import Foundation
import Testing

/// HARDENING §B1 against the real binary: every ambiguous request gets 400 (or 431) and the connection closes
/// before any byte reaches the upstream, which a raw recording backend proves.
@Suite(.serialized)
struct FramingIntegrationTests {
    static let cases: [(String, String, Int)] = [
        ("CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n", 400),
        ("TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n", 400),
        ("TE chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
        ("TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
        ("space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        ("two TE lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nContent-Length: 7\r\n\r\nabcdefg", 400),
        ("CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6, 6\r\n\r\nabcdef", 400),
        ("CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +6\r\n\r\nabcdef", 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n", 400),
        ("chunk size 0x", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        ("empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400),
        ("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400),
        ("lowercase method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
        ("percent-00 path", "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ]

    @Test func everyAmbiguousRequestIsRejectedBeforeTheUpstream() async throws {
        let backend = try await RecordingBackend.start()
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": Configs.serviceEntry(name: "rec", host: "rec.default.svc.cluster.local", endpoints: [(backend.port, [:])]),
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: rec}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http: [{route: [{destination: {host: rec}}]}]
                """,
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        for (name, request, status) in Self.cases {
            let response = try RawClient.exchange(port: port, bytes: request)
            #expect(response.hasPrefix("HTTP/1.1 \(status) "), "\(name): got \(response.prefix(40))")
            // Exactly one response, then the connection closed (RawClient reads until close).
            #expect(response.components(separatedBy: "HTTP/1.1 ").count == 2, "\(name): more than one response")
        }
        #expect(backend.recorded.isEmpty, "upstream received: \(backend.recorded.prefix(200))")
        // Oversized headers: 431.
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 70 * 1024) + "\r\n\r\n"
        #expect(try RawClient.exchange(port: port, bytes: big).hasPrefix("HTTP/1.1 431 "))
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<120).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(try RawClient.exchange(port: port, bytes: many).hasPrefix("HTTP/1.1 431 "))
        // HTTP/1.0 gets 426 as in Istio.
        #expect(try RawClient.exchange(port: port, bytes: "GET / HTTP/1.0\r\nHost: a\r\n\r\n").hasPrefix("HTTP/1.1 426 "))
        #expect(backend.recorded.isEmpty)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderAndSentUpstreamCleanly() async throws {
        let backend = try await TestBackend.start(name: "pipe")
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": Configs.serviceEntry(name: "rec", host: "rec.default.svc.cluster.local", endpoints: [(backend.port, [:])]),
            "vs.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: rec}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http:
                  - match: [{uri: {exact: /local}}]
                    directResponse: {status: 204}
                  - route: [{destination: {host: rec}}]
                """,
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let request = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /local HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            + "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let response = try RawClient.exchange(port: port, bytes: request)
        let statuses = response.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["200", "204", "200", "200"])
        let seen = backend.seen.map { "\($0.method) \($0.uri) \($0.bodyBytes)" }
        #expect(seen == ["GET /a 0", "POST /b 3", "GET /c 0"])
    }
}
