import Foundation
import Testing

/// Downstream HTTP/2 through the real binary with real clients: h2c by prior knowledge on a plaintext port
/// (`curl --http2-prior-knowledge`, `nghttp`, `h2load`) and h2 by ALPN over TLS, all feeding the same request
/// path as HTTP/1.1 (routing, local replies, header operations) toward HTTP/1.1 upstreams.
@Suite(.serialized)
struct HTTP2DownstreamIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let httpsPort: Int
        let backend: TestBackend
        let certs: TestCertificates
    }

    private static func routes(destination: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [istio-system/gw]
          http:
          - match: [{uri: {prefix: /direct}}]
            directResponse: {status: 200, body: {string: "direct answer"}}
          - match: [{uri: {prefix: /echo}}]
            headers:
              request:
                set: {x-added-by-route: "yes"}
                remove: [x-remove-me]
              response:
                add: {x-response-op: "on"}
            route:
            - destination: {host: \(destination)}
        """
    }

    private func start() async throws -> Setup {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let port = try FreePort.allocate()
        let httpsPort = try FreePort.allocate()
        let servers: [TLSConfigs.Server] = [
            .init(port: port, name: "http", protocolName: "HTTP", hosts: ["*"], tls: nil),
            .init(
                port: httpsPort, name: "https", hosts: ["a.example.com"],
                tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA)),
        ]
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: servers),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": Self.routes(destination: "echo.internal"),
        ])
        do {
            try await gateway.waitUntilReady()
        } catch {
            await backend.stop()
            throw error
        }
        return Setup(gateway: gateway, port: port, httpsPort: httpsPort, backend: backend, certs: certs)
    }

    @Test func h2cPriorKnowledgeRoutesLikeHTTP1() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let base = "http://127.0.0.1:\(setup.port)"
        let h2 = ["--http2-prior-knowledge"]

        let get = try Curl.get(
            "\(base)/echo/one?q=1",
            h2 + ["-H", "x-remove-me: 1", "-H", "cookie: a=1", "-H", "cookie: b=2", "-H", "te: trailers"])
        #expect(get.exitCode == 0)
        #expect(get.status == 200)
        #expect(get.header("x-backend") == "echo")
        #expect(get.header("x-response-op") == "on")
        let seen = try #require(setup.backend.seen.last)
        #expect(seen.uri == "/echo/one?q=1")
        #expect(seen.header("x-added-by-route") == "yes")
        #expect(seen.header("x-remove-me") == nil)
        #expect(seen.header("host") == "127.0.0.1:\(setup.port)")
        #expect(seen.header("cookie") == "a=1; b=2")
        #expect(seen.header("te") == nil)
        #expect(seen.header("x-forwarded-proto") == "http")

        let notFound = try Curl.get("\(base)/nothing", h2)
        #expect(notFound.status == 404)

        let direct = try Curl.get("\(base)/direct", h2)
        #expect(direct.status == 200)
        #expect(direct.body == "direct answer")

        // HTTP/1.1 keeps working on the same port.
        let http1 = try Curl.get("\(base)/echo/h1", ["--http1.1"])
        #expect(http1.status == 200)
        #expect(http1.header("x-backend") == "echo")

        // The access log is written by a background thread: wait for the lines rather than racing it.
        var log = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            log = (try? String(contentsOfFile: setup.gateway.accessLogPath, encoding: .utf8)) ?? ""
            if log.contains("\"GET /echo/h1 HTTP/1.1\" 200") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(log.contains("\"GET /echo/one?q=1 HTTP/2\" 200"), "\(log)")
        #expect(log.contains("\"GET /echo/h1 HTTP/1.1\" 200"), "\(log)")
    }

    @Test func h2cPostOfOneMebibyteReachesTheBackend() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("h2-\(UUID().uuidString).bin")
        try Data(repeating: 0x61, count: 1 << 20).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let post = try Curl.request([
            "--http2-prior-knowledge", "--data-binary", "@\(file.path)", "http://127.0.0.1:\(setup.port)/echo/upload",
        ])
        #expect(post.exitCode == 0)
        #expect(post.status == 200)
        #expect(post.body.contains("1048576"), "\(post.body)")
        let seen = try #require(setup.backend.seen.last)
        #expect(seen.method == "POST")
        #expect(seen.bodyBytes == 1 << 20)
    }

    @Test func h2OverTLSByALPNAndHTTP1StillNegotiable() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let h2 = try TLSCurl.get(
            host: "a.example.com", port: setup.httpsPort, path: "/echo/tls", caFile: ca, ["--http2"])
        #expect(h2.exitCode == 0, "\(h2.verbose)")
        #expect(h2.status == 200)
        #expect(h2.verbose.contains("ALPN: server accepted h2"), "\(h2.verbose)")
        #expect(h2.header("x-backend") == "echo")
        #expect(setup.backend.seen.last?.header("x-forwarded-proto") == "https")

        let h1 = try TLSCurl.get(
            host: "a.example.com", port: setup.httpsPort, path: "/direct", caFile: ca, ["--http1.1"])
        #expect(h1.status == 200)
        #expect(h1.verbose.contains("ALPN: server accepted http/1.1"), "\(h1.verbose)")
        #expect(h1.response.body == "direct answer")
    }

    /// Sequential requests reuse one HTTP/2 connection: the session must accept a new stream after the previous one
    /// closed (no GOAWAY, no idle close while the client holds the connection). curl 7.88.x cannot check this
    /// on h2c: on reusing a prior-knowledge connection it stacks a second HTTP/2 layer and fails the transfer with
    /// "(16) Error in the HTTP2 framing layer" against any server (curl/curl#10634, fixed in 8.0.0 by #10643), so
    /// there h2c reuse is checked with `h2load -c 1 -m 1` and curl reuse over TLS by ALPN.
    @Test func sequentialRequestsReuseOneConnection() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let format = ["-w", "%{http_code} %{num_connects}\\n"]
        let h2c = "http://127.0.0.1:\(setup.port)"

        if Self.curlReusesPriorKnowledgeConnections() {
            let (code, out, err) = try Command.run(
                "/usr/bin/curl",
                ["-s", "--http2-prior-knowledge", "-o", "/dev/null"] + format + ["\(h2c)/direct/a", "-o", "/dev/null"]
                    + format + ["\(h2c)/echo/b"])
            #expect(code == 0, "\(err)")
            #expect(out == "200 1\n200 0\n", "\(out)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load") {
            let (code, out, _) = try Command.run(
                "/usr/bin/h2load", ["-n", "5", "-c", "1", "-m", "1", "\(h2c)/direct/seq"])
            #expect(code == 0)
            #expect(out.contains("5 succeeded"), "\(out)")
            #expect(out.contains("5 2xx"), "\(out)")
        }

        let https = "https://a.example.com:\(setup.httpsPort)"
        let (code, out, err) = try Command.run(
            "/usr/bin/curl",
            [
                "-s", "--http2", "--resolve", "a.example.com:\(setup.httpsPort):127.0.0.1", "--cacert",
                setup.certs.ca.certificatePath, "-o", "/dev/null",
            ] + format + ["\(https)/direct/a", "-o", "/dev/null"] + format + ["\(https)/echo/b"])
        #expect(code == 0, "\(err)")
        #expect(out == "200 1\n200 0\n", "\(out)")
    }

    /// Whether the installed curl is 8.0.0 or later (see `sequentialRequestsReuseOneConnection`).
    private static func curlReusesPriorKnowledgeConnections() -> Bool {
        guard let version = try? Command.run("/usr/bin/curl", ["--version"]) else { return false }
        let words = version.1.split(separator: " ", maxSplits: 2)
        guard words.count > 1, let major = Int(words[1].split(separator: ".").first ?? "") else { return false }
        return major >= 8
    }

    @Test func manyConcurrentStreamsOnOneConnection() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let url = "http://127.0.0.1:\(setup.port)/echo/many"
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load") {
            let (code, out, _) = try Command.run("/usr/bin/h2load", ["-n", "200", "-c", "1", "-m", "20", url])
            #expect(code == 0)
            #expect(out.contains("200 succeeded"), "\(out)")
            #expect(out.contains("200 2xx"), "\(out)")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/nghttp") {
            let (code, out, _) = try Command.run(
                "/usr/bin/nghttp", ["-nv", url, "http://127.0.0.1:\(setup.port)/nothing"])
            #expect(code == 0)
            #expect(out.contains(":status: 200"), "\(out)")
            #expect(out.contains(":status: 404"), "\(out)")
        }
    }

    /// `--http2-max-concurrent-streams` and the window options reach the SETTINGS frame clients see.
    @Test func settingsComeFromTheCommandLine() async throws {
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(
            files: [
                "gw.yaml": Configs.gateway(port: port),
                "vs.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: d, namespace: default}
                    spec:
                      hosts: ["*"]
                      gateways: [istio-system/gw]
                      http: [{directResponse: {status: 200, body: {string: ok}}}]
                    """,
            ],
            extraArguments: [
                "--http2-max-concurrent-streams", "7", "--http2-stream-window", "131072",
                "--http2-connection-window", "4194304",
            ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let (code, out, _) = try Command.run("/usr/bin/nghttp", ["-v", "-n", "http://127.0.0.1:\(port)/"])
        #expect(code == 0)
        let settings = out.split(separator: "\n").drop { !$0.contains("recv SETTINGS frame") }.prefix(6)
            .joined(separator: "\n")
        #expect(settings.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7"), "\(out)")
        #expect(settings.contains("SETTINGS_INITIAL_WINDOW_SIZE(0x04):131072"), "\(out)")
        // The connection window is raised by a WINDOW_UPDATE on stream 0.
        #expect(out.contains("window_size_increment=4128769"), "\(out)")

        let bad = try Command.run(GatewayProcess.binary, ["run", "--config", "/nonexistent", "--http2-stream-window", "10"])
        #expect(bad.0 != 0)
        #expect(bad.2.contains("--http2-stream-window"), "\(bad.2)")
    }
}
