import Foundation
import Testing

/// Hot reload through the real binary: established and idle connections survive a route change, listeners follow
/// the Gateways (added ports start serving, removed ports stop accepting), and `--labels` decides which Gateways apply.
@Suite(.serialized)
struct ReloadIntegrationTests {
    /// A Gateway with one HTTP server per (port, hosts), optionally with a `selector`.
    private static func gateway(name: String, selector: [String: String]?, servers: [(port: Int, hosts: [String])])
        -> String
    {
        let selectorYAML = selector.map { labels in
            "  selector: {" + labels.map { "\($0.key): \($0.value)" }.sorted().joined(separator: ", ") + "}\n"
        } ?? ""
        let serversYAML = servers.enumerated().map { index, server in
            "  - port: {number: \(server.port), name: http-\(index), protocol: HTTP}\n"
                + "    hosts: [" + server.hosts.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
        }.joined()
        return """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: \(name), namespace: istio-system}
            spec:
            \(selectorYAML)  servers:
            \(serversYAML)
            """
    }

    /// A VirtualService answering every request on `hosts` with a direct 200 whose body names `tag`.
    private static func directRoutes(name: String, hosts: [String], gateways: [String], tag: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
          gateways: [\(gateways.joined(separator: ", "))]
          http:
          - name: \(name)-direct
            directResponse: {status: 200, body: {string: "\(tag)\\n"}}
        """
    }

    /// The listener ports in a `/config_dump` body.
    private static func listenerPorts(_ dump: String) -> Set<Int> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any],
            let listeners = object["listeners"] as? [[String: Any]]
        else { return [] }
        return Set(listeners.compactMap { $0["port"] as? Int })
    }

    /// Polls until nothing accepts TCP connections on `port` any more.
    private static func waitUntilRefused(port: Int, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? RawConnection(port: port)) == nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("port \(port) still accepts connections")
    }

    @Test func reloadKeepsEstablishedAndIdleUpstreamConnections() async throws {
        let backend = try await RecordingBackend.start()
        let port = try FreePort.allocate()
        let routes = { (extra: String) in
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: app, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
            \(extra)  - name: to-backend
                route: [{destination: {host: app.default.svc.cluster.local}}]
            """
        }
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Configs.gateway(port: port),
            "se.yaml": Configs.serviceEntry(
                name: "app", host: "app.default.svc.cluster.local", endpoints: [(backend.port, [:])]),
            "vs.yaml": routes(""),
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()

        // One keep-alive client connection, held open across the reload, so every request it carries is handled by
        // the same event loop and so the same upstream pool: a pool that survives the reload serves all of them
        // with its one idle upstream connection.
        let client = try RawConnection(port: port)
        for i in 0..<5 {
            try client.send("GET /before/\(i) HTTP/1.1\r\nHost: app\r\n\r\n")
            let response = try client.read(until: "\r\n\r\nok")
            #expect(response.hasPrefix("HTTP/1.1 200 "), "got \(response)")
        }
        #expect(backend.connections == 1)

        // Change the VirtualService: a new route in front of the old one. Wait until it is in effect.
        try gateway.write(
            "vs.yaml",
            routes(
                """
                  - name: added-by-reload
                    match: [{uri: {exact: /reloaded}}]
                    directResponse: {status: 200, body: {string: "reloaded\\n"}}

                """))
        try await gateway.waitForConfig { $0.contains("\"added-by-reload\"") }

        // The established client connection was not closed and already sees the new route table...
        try client.send("GET /reloaded HTTP/1.1\r\nHost: app\r\n\r\n")
        let reloaded = try client.read(until: "reloaded\n")
        #expect(reloaded.hasPrefix("HTTP/1.1 200 "), "got \(reloaded)")
        // ...and its requests to the unchanged cluster still reuse the idle upstream connection from before.
        for i in 0..<5 {
            try client.send("GET /after/\(i) HTTP/1.1\r\nHost: app\r\n\r\n")
            let response = try client.read(until: "\r\n\r\nok")
            #expect(response.hasPrefix("HTTP/1.1 200 "), "got \(response)")
        }
        #expect(backend.connections == 1, "the reload cost a new upstream connection")
        #expect(!client.peerClosed)

        // A new curl connection with sequential keep-alive requests after the reload. The gateway runs
        // `--concurrency 2`: each event loop has its own upstream pool, and the new client connection may be
        // accepted by the other loop, whose pool is still empty, so one more upstream connection is legitimate.
        // More than 2 would mean the reload (or the pool) dropped idle connections.
        let urls = (0..<10).flatMap { i in ["-o", "/dev/null", "http://127.0.0.1:\(port)/curl/\(i)"] }
        let (_, out, _) = try Command.run("/usr/bin/curl", ["-s", "-w", "%{http_code} %{num_connects}\\n"] + urls)
        let lines = out.split(separator: "\n")
        #expect(lines.count == 10)
        #expect(lines.allSatisfy { $0.hasPrefix("200 ") }, "\(out)")
        // curl itself used one connection for all ten requests (num_connects is 1 only for the first).
        #expect(lines.filter { !$0.hasSuffix(" 0") }.count == 1, "\(out)")
        #expect(backend.connections <= 2, "upstream connections: \(backend.connections)")
        let forwarded = backend.recorded.components(separatedBy: " HTTP/1.1\r\n").count - 1
        #expect(forwarded == 20)
    }

    @Test func listenersFollowTheGatewayServersOnReload() async throws {
        let first = try FreePort.allocate()
        let second = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Self.gateway(name: "gw", selector: nil, servers: [(first, ["*"])]),
            "vs.yaml": Self.directRoutes(name: "hello", hosts: ["*"], gateways: ["istio-system/gw"], tag: "hello"),
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        #expect(try Curl.get("http://127.0.0.1:\(first)/").body == "hello\n")
        #expect(try Curl.get("http://127.0.0.1:\(second)/").exitCode == 7)  // connection refused

        // Add a server on a second port: a new listener starts serving; the first keeps serving.
        try gateway.write(
            "gw.yaml", Self.gateway(name: "gw", selector: nil, servers: [(first, ["*"]), (second, ["*"])]))
        try await gateway.waitForConfig { Self.listenerPorts($0) == [first, second] }
        let added = try Curl.get("http://127.0.0.1:\(second)/x")
        #expect(added.status == 200)
        #expect(added.body == "hello\n")
        #expect(try Curl.get("http://127.0.0.1:\(first)/x").status == 200)

        // Remove the first server: its port stops accepting connections; the second keeps serving.
        try gateway.write("gw.yaml", Self.gateway(name: "gw", selector: nil, servers: [(second, ["*"])]))
        try await gateway.waitForConfig { Self.listenerPorts($0) == [second] }
        try await Self.waitUntilRefused(port: first)
        #expect(try Curl.get("http://127.0.0.1:\(first)/").exitCode == 7)
        #expect(try Curl.get("http://127.0.0.1:\(second)/y").status == 200)
    }

    @Test func labelsDecideWhichGatewaysApply() async throws {
        let shared = try FreePort.allocate()
        let otherOnly = try FreePort.allocate()
        let unselected = try FreePort.allocate()
        let gateway = try GatewayProcess(
            files: [
                // Selector matches `--labels istio=ingressgateway`.
                "match.yaml": Self.gateway(
                    name: "gw-match", selector: ["istio": "ingressgateway"],
                    servers: [(shared, ["match.example.com"])]),
                // Selector does not match: ignored, with both its servers.
                "other.yaml": Self.gateway(
                    name: "gw-other", selector: ["istio": "egressgateway"],
                    servers: [(shared, ["other.example.com"]), (otherOnly, ["*"])]),
                // No selector: applies to every gateway workload.
                "any.yaml": Self.gateway(name: "gw-any", selector: nil, servers: [(unselected, ["*"])]),
                "vs-match.yaml": Self.directRoutes(
                    name: "match", hosts: ["match.example.com"], gateways: ["istio-system/gw-match"], tag: "match"),
                "vs-other.yaml": Self.directRoutes(
                    name: "other", hosts: ["*"], gateways: ["istio-system/gw-other"], tag: "other"),
                "vs-any.yaml": Self.directRoutes(
                    name: "any", hosts: ["*"], gateways: ["istio-system/gw-any"], tag: "any"),
            ], extraArguments: ["--labels", "istio=ingressgateway"])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()

        let matched = try Curl.get("http://127.0.0.1:\(shared)/", ["-H", "Host: match.example.com"])
        #expect(matched.status == 200)
        #expect(matched.body == "match\n")
        // The unmatched Gateway's host on the shared port has no virtual host: 404, empty body.
        let other = try Curl.get("http://127.0.0.1:\(shared)/", ["-H", "Host: other.example.com"])
        #expect(other.status == 404)
        #expect(other.body.isEmpty)
        // The unmatched Gateway's own port has no listener at all.
        #expect(try Curl.get("http://127.0.0.1:\(otherOnly)/").exitCode == 7)
        // A Gateway without a selector applies.
        #expect(try Curl.get("http://127.0.0.1:\(unselected)/").body == "any\n")
        let dump = try await HTTP.get(port: gateway.adminPort, path: "/config_dump").1
        #expect(Self.listenerPorts(dump) == [shared, unselected])
    }

    /// A listener removed by a reload sends GOAWAY to its HTTP/2 connections, and the stream in flight still gets
    /// its whole response (issue 4 "Graceful GOAWAY ... on reload where a listener goes away").
    @Test func removedListenerSendsGoAwayAndFinishesTheStreamInFlight() async throws {
        let backend = try await TestBackend.start(name: "slow")
        defer { Task { await backend.stop() } }
        let kept = try FreePort.allocate()
        let removed = try FreePort.allocate()
        let routes = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: slow, namespace: default}
            spec:
              hosts: [slow.internal]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints: [{address: 127.0.0.1, ports: {http: \(backend.port)}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: slow, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [istio-system/gw]
              http:
              - route: [{destination: {host: slow.internal}}]
            """
        let gateway = try GatewayProcess(files: [
            "gw.yaml": Self.gateway(name: "gw", selector: nil, servers: [(kept, ["*"]), (removed, ["*"])]),
            "routes.yaml": routes,
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()

        // nghttp keeps one h2c connection with a request that the backend answers after 5 s, long enough for the
        // reload to land while it is in flight even on a busy machine.
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/nghttp")
        client.arguments = ["-v", "-n", "http://127.0.0.1:\(removed)/delay/5000"]
        let output = Pipe()
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        try client.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while backend.seen.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!backend.seen.isEmpty, "the request reached the backend")

        try gateway.write("gw.yaml", Self.gateway(name: "gw", selector: nil, servers: [(kept, ["*"])]))
        try await Self.waitUntilRefused(port: removed)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(text.contains("recv GOAWAY frame"), "\(text)")
        #expect(text.contains("error_code=NO_ERROR"), "\(text)")
        #expect(text.contains(":status: 200"), "the stream in flight completes: \(text)")
        #expect(client.terminationStatus == 0)
        // The other listener keeps serving.
        #expect(try Curl.get("http://127.0.0.1:\(kept)/delay/1").status == 200)
    }
}
