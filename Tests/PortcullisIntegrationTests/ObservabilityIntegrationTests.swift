import Foundation
import NIOConcurrencyHelpers
import Testing

/// What operators see, through the real binary: the JSON access log, `/ready` while draining, `/config_dump`.
@Suite(.serialized)
struct ObservabilityIntegrationTests {
    private static let appCluster = "outbound|80||app.default.svc.cluster.local"
    private static let deadCluster = "outbound|80||dead.default.svc.cluster.local"

    private func start(backend: TestBackend, extraArguments: [String] = [], drainSeconds: Int = 5) async throws
        -> (GatewayProcess, Int)
    {
        let port = try FreePort.allocate()
        let dead = try FreePort.allocate()  // nothing listens here
        let gateway = try GatewayProcess(
            files: [
                "gw.yaml": Configs.gateway(port: port),
                "se.yaml": [
                    Configs.serviceEntry(
                        name: "app", host: "app.default.svc.cluster.local", endpoints: [(backend.port, [:])]),
                    Configs.serviceEntry(
                        name: "dead", host: "dead.default.svc.cluster.local", endpoints: [(dead, [:])]),
                ].joined(separator: "\n---\n"),
                "vs.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: obs, namespace: default}
                    spec:
                      hosts: ["*"]
                      gateways: [istio-system/gw]
                      http:
                      - name: app-route
                        match: [{uri: {prefix: /app/}}, {uri: {prefix: /delay/}}]
                        route: [{destination: {host: app.default.svc.cluster.local}}]
                      - name: dead-route
                        match: [{uri: {prefix: /dead}}]
                        route: [{destination: {host: dead.default.svc.cluster.local}}]
                      - name: local-route
                        match: [{uri: {exact: /local}}]
                        directResponse: {status: 418, body: {string: "teapot\\n"}}
                    """,
            ], extraArguments: extraArguments, drainSeconds: drainSeconds)
        try await gateway.waitUntilReady()
        return (gateway, port)
    }

    @Test func jsonAccessLogHasOneParsableObjectPerRequest() async throws {
        let backend = try await TestBackend.start(name: "obs")
        let (gateway, port) = try await self.start(backend: backend, extraArguments: ["--access-log-format", "json"])
        defer { _ = gateway.stop() }
        #expect(try Curl.get("http://127.0.0.1:\(port)/app/a?x=1", ["-A", "obs-test/1.0"]).status == 200)
        #expect(try Curl.request(["--data-binary", "12345", "http://127.0.0.1:\(port)/app/post"]).status == 200)
        #expect(try Curl.get("http://127.0.0.1:\(port)/nothing").status == 404)
        #expect(try Curl.get("http://127.0.0.1:\(port)/dead").status == 503)
        #expect(try Curl.get("http://127.0.0.1:\(port)/local").status == 418)
        // Stopping flushes the log.
        #expect(gateway.stop() == 0)

        let text = try String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 5, "\(text)")
        var entries: [String: [String: Any]] = [:]
        for line in lines {
            let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let object = try #require(parsed as? [String: Any], "not an object: \(line)")
            let path = try #require(object["path"] as? String, "no path: \(line)")
            entries[path] = object
        }
        func field(_ path: String, _ key: String) -> Any? { entries[path]?[key] }

        let ok = try #require(entries["/app/a?x=1"], "paths: \(entries.keys.sorted())")
        #expect(ok["method"] as? String == "GET")
        #expect(ok["response_code"] as? Int == 200)
        #expect(ok["response_flags"] as? String == "-")
        #expect(ok["upstream_cluster"] as? String == Self.appCluster)
        #expect(ok["upstream_host"] as? String == "127.0.0.1:\(backend.port)")
        #expect(ok["route_name"] as? String == "app-route")
        #expect(ok["user_agent"] as? String == "obs-test/1.0")
        #expect(ok["protocol"] as? String == "HTTP/1.1")
        #expect((ok["request_id"] as? String)?.count == 36)
        #expect(ok["duration"] is Int)

        #expect(field("/app/post", "method") as? String == "POST")
        #expect(field("/app/post", "response_code") as? Int == 200)
        #expect(field("/app/post", "bytes_received") as? Int == 5)

        #expect(field("/nothing", "method") as? String == "GET")
        #expect(field("/nothing", "response_code") as? Int == 404)
        #expect(field("/nothing", "response_flags") as? String == "NR")
        // No cluster was chosen: Envoy prints a missing value as null.
        #expect(field("/nothing", "upstream_cluster") is NSNull)

        #expect(field("/dead", "response_code") as? Int == 503)
        let deadFlags = Set((field("/dead", "response_flags") as? String ?? "").split(separator: ","))
        #expect(deadFlags == ["UF", "URX"], "flags \(String(describing: field("/dead", "response_flags")))")
        #expect(field("/dead", "upstream_cluster") as? String == Self.deadCluster)

        #expect(field("/local", "response_code") as? Int == 418)
        #expect(field("/local", "response_flags") as? String == "-")
        #expect(field("/local", "upstream_cluster") is NSNull)
    }

    @Test func readyFailsWhileDrainingAndInFlightRequestsFinish() async throws {
        let backend = try await TestBackend.start(name: "drain")
        let (gateway, port) = try await self.start(backend: backend, drainSeconds: 20)
        defer { _ = gateway.stop() }
        let (readyStatus, readyBody) = try await HTTP.get(port: gateway.adminPort, path: "/ready")
        #expect(readyStatus == 200)
        #expect(readyBody == "LIVE\n")

        let finished = NIOLockedValueBox(false)
        let inFlight = Task.detached {
            defer { finished.withLockedValue { $0 = true } }
            return try Curl.get("http://127.0.0.1:\(port)/delay/4000")
        }
        // Wait until the backend holds the request (it answers 4 s after it arrived), then SIGTERM.
        let arrived = ContinuousClock.now + .seconds(10)
        while backend.seen.isEmpty && ContinuousClock.now < arrived {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!backend.seen.isEmpty, "the slow request never reached the backend")
        gateway.terminate()

        // /ready turns 503 while the slow request is still being served.
        var draining: (Int, String)?
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let answer = try? await HTTP.get(port: gateway.adminPort, path: "/ready"), answer.0 == 503 {
                draining = answer
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let stillRunning = !finished.withLockedValue { $0 }
        #expect(draining?.0 == 503)
        #expect(draining?.1 == "DRAINING\n")
        #expect(stillRunning, "the in-flight request ended before /ready reported draining")

        let result = try await inFlight.value
        #expect(result.status == 200)
        #expect(result.body == "delayed 4000ms\n")
        gateway.process.waitUntilExit()
        #expect(gateway.process.terminationStatus == 0)
    }

    @Test func configDumpIsJSONNamingListenersAndClusters() async throws {
        let backend = try await TestBackend.start(name: "dump")
        let (gateway, port) = try await self.start(backend: backend)
        defer { _ = gateway.stop() }
        let (status, body) = try await HTTP.get(port: gateway.adminPort, path: "/config_dump")
        #expect(status == 200)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect((root["version"] as? String)?.isEmpty == false)
        #expect(root["loaded_at"] is String)

        let listeners = try #require(root["listeners"] as? [[String: Any]])
        #expect(listeners.count == 1)
        let listener = try #require(listeners.first)
        #expect(listener["port"] as? Int == port)
        let vhosts = try #require(listener["virtual_hosts"] as? [[String: Any]])
        let routeNames = vhosts.flatMap { ($0["routes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } }
        #expect(routeNames == ["app-route", "dead-route", "local-route"])

        let clusters = try #require(root["clusters"] as? [[String: Any]])
        let names = clusters.compactMap { $0["name"] as? String }
        #expect(names.contains(Self.appCluster), "\(names)")
        #expect(names.contains(Self.deadCluster), "\(names)")
        let app = try #require(clusters.first { $0["name"] as? String == Self.appCluster })
        #expect(app["endpoints"] as? [String] == ["127.0.0.1:\(backend.port)"])

        let resources = try #require(root["resources"] as? [String: Any])
        let gateways = try #require(resources["gateways"] as? [[String: Any]])
        #expect(gateways.compactMap { $0["name"] as? String } == ["gw"])
        let virtualServices = try #require(resources["virtual_services"] as? [[String: Any]])
        #expect(virtualServices.compactMap { $0["name"] as? String } == ["obs"])
        #expect((virtualServices.first?["source"] as? String)?.contains("vs.yaml") == true)
    }
}
