import Foundation
import Testing

/// HTTP/2 toward upstreams through the real binary: a Python `h2` origin that speaks only HTTP/2 (so any
/// HTTP/1.1 sent to it fails), reached by port protocol `HTTP2`, by `h2UpgradePolicy: UPGRADE`, by
/// `useClientProtocol`, and over TLS by ALPN. Clients are curl over HTTP/1.1 and HTTP/2 and h2load.
@Suite(.serialized)
struct HTTP2UpstreamIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let port: Int
        let origin: PythonPeer
        var base: String { "http://127.0.0.1:\(self.port)" }
    }

    /// In CI (`make test` installs the modules) a missing module fails the tests instead of skipping them.
    static let available = PythonPeer.hasModules(["h2"]) || ProcessInfo.processInfo.environment["CI"] != nil

    static func serviceEntry(name: String, host: String, port: Int, protocolName: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(host)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: web, protocol: \(protocolName)}]
          endpoints: [{address: 127.0.0.1, ports: {web: \(port)}}]
        """
    }

    static func routes(_ rules: [(prefix: String, host: String)]) -> String {
        let http = rules.map { rule in
            """
              - match: [{uri: {prefix: \(rule.prefix)}}]
                route: [{destination: {host: \(rule.host)}}]
            """
        }.joined(separator: "\n")
        return """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
            \(http)
            """
    }

    private func start(files: (Int) -> [String: String], originArguments: [String] = []) async throws -> Setup {
        let origin = try await PythonPeer(script: "h2_backend.py", arguments: ["--name", "h2origin"] + originArguments)
        let port = try FreePort.allocate()
        var all = files(origin.port)
        all["gw.yaml"] = Configs.gateway(port: port)
        let gateway = try GatewayProcess(files: all)
        try await gateway.waitUntilReady()
        return Setup(gateway: gateway, port: port, origin: origin)
    }

    private func startDefault() async throws -> Setup {
        try await self.start { originPort in
            [
                "se.yaml": Self.serviceEntry(name: "h2", host: "h2.internal", port: originPort, protocolName: "HTTP2"),
                "vs.yaml": Self.routes([("/", "h2.internal")]),
            ]
        }
    }

    static func json(_ body: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8))
        return try #require(object as? [String: Any])
    }

    static func headers(_ echo: [String: Any]) -> [String: [String]] {
        (echo["headers"] as? [String: [String]]) ?? [:]
    }

    @Test(.enabled(if: available)) func http1ClientIsTranslatedToHTTP2() async throws {
        let setup = try await self.startDefault()
        defer { _ = setup.gateway.stop() }
        let get = try Curl.get(
            "\(setup.base)/hello?x=1",
            ["-H", "Host: shop.example.com", "-H", "Cookie: a=1", "-H", "Connection: keep-alive, x-hop",
             "-H", "x-hop: drop-me", "-H", "x-keep: 1"])
        #expect(get.status == 200, "\(get.body) \(setup.gateway.stderrText())")
        #expect(get.header("x-backend") == "h2origin")
        let echo = try Self.json(get.body)
        #expect(echo["protocol"] as? String == "h2")
        #expect(echo["method"] as? String == "GET")
        #expect(echo["path"] as? String == "/hello?x=1")
        #expect(echo["authority"] as? String == "shop.example.com")
        #expect(echo["scheme"] as? String == "http")
        let headers = Self.headers(echo)
        #expect(headers["host"] == nil)
        #expect(headers["connection"] == nil)
        #expect(headers["x-hop"] == nil)
        #expect(headers["te"] == nil)
        #expect(headers["x-keep"] == ["1"])
        #expect(headers["cookie"] == ["a=1"])
        #expect(headers["x-forwarded-proto"] == ["http"])

        // A chunked HTTP/1.1 body arrives as DATA frames without `transfer-encoding`.
        let body = String(repeating: "b", count: 70_000)
        let post = try Curl.request([
            "-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", body, "\(setup.base)/upload",
        ])
        #expect(post.status == 200)
        let posted = try Self.json(post.body)
        #expect(posted["bodyLength"] as? Int == 70_000)
        #expect(Self.headers(posted)["transfer-encoding"] == nil)

        // `Expect: 100-continue` toward an HTTP/2 upstream is answered by the gateway; the upstream never sees it.
        let (code, dump, _) = try Command.run(
            "/usr/bin/curl",
            ["-s", "--max-time", "10", "-D", "-", "-H", "Expect: 100-continue", "--data-binary", body,
             "\(setup.base)/expect"])
        #expect(code == 0)
        #expect(dump.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(dump.prefix(200))")
        let expectEcho = try Self.json(String(dump[dump.range(of: "{")!.lowerBound...]))
        #expect(Self.headers(expectEcho)["expect"] == nil)
        #expect(expectEcho["bodyLength"] as? Int == 70_000)
    }

    @Test(.enabled(if: available)) func trailersReachHTTP1AndHTTP2Clients() async throws {
        let setup = try await self.startDefault()
        defer { _ = setup.gateway.stop() }
        for h2 in [false, true] {
            let dump = FileManager.default.temporaryDirectory.appendingPathComponent("h2-trailers-\(UUID()).txt")
            defer { try? FileManager.default.removeItem(at: dump) }
            let (code, body, _) = try Command.run(
                "/usr/bin/curl",
                ["-s", "--max-time", "10", "-D", dump.path, "-H", "x-want-trailers: yes", "-H", "TE: trailers"]
                    + (h2 ? ["--http2-prior-knowledge"] : []) + ["\(setup.base)/t"])
            #expect(code == 0)
            let dumped = try String(contentsOf: dump, encoding: .utf8).lowercased()
            #expect(dumped.contains("x-trailer-one: 1"), "h2=\(h2): \(dumped)")
            #expect(dumped.contains("x-trailer-two: 2"), "h2=\(h2): \(dumped)")
            if !h2 { #expect(dumped.contains("transfer-encoding: chunked")) }
            // `te: trailers` goes on to the HTTP/2 upstream.
            let echo = try Self.json(body)
            #expect(Self.headers(echo)["te"] == ["trailers"])
        }
    }

    @Test(.enabled(if: available)) func largeBodiesFlowBothWaysUnderFlowControl() async throws {
        let setup = try await self.startDefault()
        defer { _ = setup.gateway.stop() }
        for flags in [[String](), ["--http2-prior-knowledge"]] {
            // 8 MiB down: far beyond every window, so it only completes if windows are refilled as bytes move.
            let (code, out, _) = try Command.run(
                "/usr/bin/curl",
                ["-s", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"] + flags
                    + ["\(setup.base)/bytes/8388608"])
            #expect(code == 0)
            #expect(out == "200 8388608", "\(flags): \(out)")
        }
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("h2-upload-\(UUID())")
        defer { try? FileManager.default.removeItem(at: upload) }
        try Data(repeating: 0x61, count: 3 * 1024 * 1024).write(to: upload)
        for flags in [[String](), ["--http2-prior-knowledge"]] {
            let post = try Curl.request(flags + ["--data-binary", "@\(upload.path)", "\(setup.base)/up"])
            #expect(post.status == 200)
            #expect(try Self.json(post.body)["bodyLength"] as? Int == 3 * 1024 * 1024)
        }
    }

    @Test(.enabled(if: available)) func requestsShareMultiplexedConnections() async throws {
        let setup = try await self.startDefault()
        defer { _ = setup.gateway.stop() }
        // 200 requests over 4 client connections with 25 streams each: the gateway (2 event loops) needs at most
        // one upstream connection per loop, since the origin allows 100 concurrent streams.
        let (code, out, err) = try Command.run(
            "/usr/bin/h2load", ["-n", "200", "-c", "4", "-m", "25", "\(setup.base)/load"])
        #expect(code == 0, "\(err)")
        #expect(out.contains("200 succeeded"), "\(out)")
        let metrics = try await setup.gateway.metrics()
        #expect(metrics.contains("portcullis_upstream_http2_connections_opened_total"), "\(metrics)")
        let opened = Self.counter(metrics, "portcullis_upstream_http2_connections_opened_total")
        #expect(opened >= 1 && opened <= 2, "\(opened) upstream HTTP/2 connections for 200 requests: \(metrics)")
    }

    static func counter(_ metrics: String, _ name: String) -> Int {
        metrics.split(separator: "\n").filter { $0.hasPrefix(name) }.reduce(0) { sum, line in
            sum + Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
        }
    }

    @Test(.enabled(if: available)) func maxConcurrentStreamsOpensMoreConnections() async throws {
        let setup = try await self.start { originPort in
            [
                "se.yaml": Self.serviceEntry(name: "h2", host: "h2.internal", port: originPort, protocolName: "HTTP2"),
                "dr.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: DestinationRule
                    metadata: {name: h2, namespace: default}
                    spec:
                      host: h2.internal
                      trafficPolicy: {connectionPool: {http: {maxConcurrentStreams: 1}}}
                    """,
                "vs.yaml": Self.routes([("/", "h2.internal")]),
            ]
        }
        defer { _ = setup.gateway.stop() }
        let (code, out, err) = try Command.run(
            "/usr/bin/h2load", ["-n", "100", "-c", "1", "-m", "10", "\(setup.base)/load"])
        #expect(code == 0, "\(err)")
        #expect(out.contains("100 succeeded"), "\(out)")
        let opened = Self.counter(try await setup.gateway.metrics(), "portcullis_upstream_http2_connections_opened_total")
        #expect(opened > 1, "one stream per connection must open more than one connection, saw \(opened)")
    }

    @Test(.enabled(if: available)) func maxRequestsPerConnectionRetiresConnections() async throws {
        let setup = try await self.start { originPort in
            [
                "se.yaml": Self.serviceEntry(name: "h2", host: "h2.internal", port: originPort, protocolName: "HTTP2"),
                "dr.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: DestinationRule
                    metadata: {name: h2, namespace: default}
                    spec:
                      host: h2.internal
                      trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 2}}}
                    """,
                "vs.yaml": Self.routes([("/", "h2.internal")]),
            ]
        }
        defer { _ = setup.gateway.stop() }
        for index in 0..<6 { #expect(try Curl.get("\(setup.base)/n\(index)").status == 200) }
        let opened = Self.counter(try await setup.gateway.metrics(), "portcullis_upstream_http2_connections_opened_total")
        #expect(opened >= 3, "6 requests at 2 per connection need at least 3 connections, saw \(opened)")
    }

    @Test(.enabled(if: available)) func upgradePolicyAndClientProtocolChooseHTTP2() async throws {
        let setup = try await self.start { originPort in
            [
                "se-up.yaml": Self.serviceEntry(name: "up", host: "up.internal", port: originPort, protocolName: "HTTP"),
                "se-plain.yaml": Self.serviceEntry(
                    name: "plain", host: "plain.internal", port: originPort, protocolName: "HTTP"),
                "se-client.yaml": Self.serviceEntry(
                    name: "client", host: "client.internal", port: originPort, protocolName: "HTTP"),
                "dr.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: DestinationRule
                    metadata: {name: up, namespace: default}
                    spec:
                      host: up.internal
                      trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
                    ---
                    apiVersion: networking.istio.io/v1
                    kind: DestinationRule
                    metadata: {name: client, namespace: default}
                    spec:
                      host: client.internal
                      trafficPolicy: {connectionPool: {http: {useClientProtocol: true}}}
                    """,
                "vs.yaml": Self.routes([("/up", "up.internal"), ("/plain", "plain.internal"), ("/client", "client.internal")]),
            ]
        }
        defer { _ = setup.gateway.stop() }
        #expect(try Curl.get("\(setup.base)/up").status == 200)
        // An HTTP port without UPGRADE speaks HTTP/1.1, which the h2-only origin cannot answer.
        let plain = try Curl.get("\(setup.base)/plain")
        #expect(plain.status == 503 || plain.status == 502, "\(plain.status)")
        // useClientProtocol follows the client: h2 works, HTTP/1.1 does not reach an h2-only origin.
        #expect(try Curl.get("\(setup.base)/client", ["--http2-prior-knowledge"]).status == 200)
        let h1 = try Curl.get("\(setup.base)/client")
        #expect(h1.status == 503 || h1.status == 502, "\(h1.status)")
    }

    @Test(.enabled(if: available)) func streamResetsBecome503() async throws {
        let setup = try await self.startDefault()
        defer { _ = setup.gateway.stop() }
        // REFUSED_STREAM is retried under Istio's default `refused-stream` policy, then reported; INTERNAL_ERROR
        // is a reset before headers.
        for code in ["7", "2"] {
            let reply = try Curl.get("\(setup.base)/reset", ["-H", "x-reset: before", "-H", "x-reset-code: \(code)"])
            #expect(reply.status == 503, "code \(code): \(reply.status) \(reply.body)")
            #expect(reply.body.hasPrefix("upstream connect error or disconnect/reset before headers"))
        }
        // The connection survives stream resets: the next request succeeds.
        #expect(try Curl.get("\(setup.base)/after").status == 200)
    }

    @Test(.enabled(if: available)) func tlsOriginationNegotiatesH2ByALPN() async throws {
        let certs = try TestCertificates.shared()
        let setup = try await self.start(
            files: { originPort in
                [
                    "se.yaml": """
                        apiVersion: networking.istio.io/v1
                        kind: ServiceEntry
                        metadata: {name: external, namespace: default}
                        spec:
                          hosts: [pt.example.com]
                          location: MESH_EXTERNAL
                          resolution: STATIC
                          ports: [{number: 443, name: https, protocol: HTTPS}]
                          endpoints: [{address: 127.0.0.1, ports: {https: \(originPort)}}]
                        """,
                    "dr.yaml": """
                        apiVersion: networking.istio.io/v1
                        kind: DestinationRule
                        metadata: {name: external, namespace: default}
                        spec:
                          host: pt.example.com
                          trafficPolicy:
                            connectionPool: {http: {h2UpgradePolicy: UPGRADE}}
                            tls: {mode: SIMPLE, caCertificates: \(certs.backendCA.certificatePath)}
                        """,
                    "vs.yaml": """
                        apiVersion: networking.istio.io/v1
                        kind: VirtualService
                        metadata: {name: external, namespace: default}
                        spec:
                          hosts: ["*"]
                          gateways: [istio-system/gw]
                          http:
                          - rewrite: {authority: pt.example.com}
                            route: [{destination: {host: pt.example.com, port: {number: 443}}}]
                        """,
                ]
            }, originArguments: ["--cert", certs.backend.certificatePath, "--key", certs.backend.keyPath])
        defer { _ = setup.gateway.stop() }
        let reply = try Curl.get("\(setup.base)/secure")
        #expect(reply.status == 200, "\(reply.body) \(setup.gateway.stderrText())")
        let echo = try Self.json(reply.body)
        #expect(echo["scheme"] as? String == "https")
        #expect(echo["authority"] as? String == "pt.example.com")
    }
}
