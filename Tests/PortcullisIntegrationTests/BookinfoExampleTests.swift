import Foundation
import Testing
import Yams

/// `config/examples` exactly as its README runs it: `backends.py` plus the gateway with `--labels
/// istio=ingressgateway`, checked with curl.
///
/// The example uses fixed ports (the gateway listens on 8080, the fake services on 19080-19085), so only one copy of
/// this suite can run on a machine at a time, and nothing else (such as `make run`, which also serves 8080) may hold
/// those ports. A taken port fails the test with a message naming it.
@Suite(.serialized)
struct BookinfoExampleTests {
    static let listenerPort = 8080
    static let reviewsHost = "reviews.bookinfo.example.com"

    /// Starts the example's backends and the gateway on `config/examples` (or, with `plane`, on the same objects
    /// pushed by the xDS test control plane), runs `body`, and stops both.
    private func withBookinfo(
        overXDS plane: XDSControlPlane? = nil, _ body: (GatewayProcess) async throws -> Void
    ) async throws {
        if (try? RawConnection(port: Self.listenerPort)) != nil {
            throw TestFailure("port \(Self.listenerPort), fixed in config/examples/bookinfo/gateway.yaml, is already in use")
        }
        let backends = try await BookinfoBackends()
        defer { backends.stop() }
        let examples = GatewayProcess.packageRoot.appendingPathComponent("config/examples").path
        // No files of its own: the example directory (or the control plane) is the whole configuration.
        let options = ["--labels", "istio=ingressgateway", "--access-log-format", "json"]
        let gateway = try plane.map {
            try GatewayProcess(source: ["--xds-address", "127.0.0.1:\($0.xdsPort)"], extraArguments: options, environment: [:])
        } ?? GatewayProcess(files: [:], extraArguments: ["--config", examples] + options)
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        try await body(gateway)
        #expect(gateway.stop() == 0)
        // The backends stop on SIGTERM, as the README says (the deferred stop would fall back to SIGKILL).
        backends.stop()
        #expect(backends.process.terminationReason == .exit, "backends.py did not exit on SIGTERM")
    }

    /// The access-log entries (JSON format) for `path`, after the gateway stopped and flushed the log.
    private static func accessLog(_ gateway: GatewayProcess, path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return entry?["path"] as? String == path ? entry : nil
        }
    }

    private static func json(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "body: \(body)")
    }

    @Test func productpageIsServedAndRootIs404() async throws {
        try await self.withBookinfo { _ in
            let page = try Curl.get("http://127.0.0.1:\(Self.listenerPort)/productpage")
            #expect(page.status == 200)
            #expect(page.header("server") == "portcullis")
            let doc = try Self.json(page.body)
            #expect(doc["service"] as? String == "productpage")
            #expect(doc["version"] as? String == "v1")
            #expect(doc["path"] as? String == "/productpage")
            let headers = try #require(doc["headers"] as? [String: String])
            #expect(headers["x-forwarded-proto"] == "http")
            #expect(headers["x-request-id"]?.count == 36)

            let root = try Curl.get("http://127.0.0.1:\(Self.listenerPort)/")
            #expect(root.status == 404)
            #expect(root.body.isEmpty)
            // A prefix route of the same VirtualService.
            #expect(try Curl.get("http://127.0.0.1:\(Self.listenerPort)/static/app.css").status == 200)
        }
    }

    @Test func jasonIsRoutedToReviewsV2() async throws {
        try await self.withBookinfo { _ in
            for _ in 0..<10 {
                let result = try Curl.get(
                    "http://127.0.0.1:\(Self.listenerPort)/reviews/0",
                    ["-H", "Host: \(Self.reviewsHost)", "-H", "end-user: jason"])
                #expect(result.status == 200)
                let doc = try Self.json(result.body)
                #expect(doc["service"] as? String == "reviews")
                #expect(doc["version"] as? String == "v2")
                #expect((doc["headers"] as? [String: String])?["end-user"] == "jason")
            }
            // The exact host has its own virtual host, and its catch-all canary route wins even for /productpage:
            // there is no fallthrough to the `*` virtual host's productpage route.
            let other = try Curl.get(
                "http://127.0.0.1:\(Self.listenerPort)/productpage", ["-H", "Host: \(Self.reviewsHost)"])
            #expect(other.status == 200)
            #expect(try Self.json(other.body)["service"] as? String == "reviews")
        }
    }

    @Test func reviewsAreSplit80To20BetweenV1AndV3() async throws {
        var captured: GatewayProcess?
        try await self.withBookinfo { gateway in
            captured = gateway
            let n = 500
            let url = "http://127.0.0.1:\(Self.listenerPort)/reviews/split"
            let urls = (0..<n).flatMap { _ in ["-o", "/dev/null", url] }
            let (code, out, _) = try Command.run(
                "/usr/bin/curl", ["-s", "-H", "Host: \(Self.reviewsHost)", "-w", "%{http_code}\\n"] + urls)
            #expect(code == 0)
            let statuses = out.split(separator: "\n")
            #expect(statuses.count == n)
            #expect(statuses.allSatisfy { $0 == "200" }, "non-200: \(statuses.filter { $0 != "200" }.prefix(5))")
            #expect(gateway.stop() == 0)  // flushes the access log
        }
        // The response bodies are discarded, and the gateway replaces the backends' `server` header, so the
        // version each request reached is read from the access log's upstream host (the example's fixed ports).
        let gateway = try #require(captured)
        let hosts = try Self.accessLog(gateway, path: "/reviews/split").map { $0["upstream_host"] as? String ?? "-" }
        #expect(hosts.count == 500)
        let v1 = hosts.filter { $0 == "127.0.0.1:\(BookinfoBackends.ports["reviews-v1"]!)" }.count
        let v3 = hosts.filter { $0 == "127.0.0.1:\(BookinfoBackends.ports["reviews-v3"]!)" }.count
        #expect(v1 + v3 == 500, "other upstreams: \(Set(hosts))")
        // 80/20 of 500: 400 expected, standard deviation ~8.9; 5 of them is ±45.
        #expect(abs(v1 - 400) < 45, "v1 got \(v1), v3 got \(v3) of 500")
    }

    /// The example's YAML, unchanged, served by the xDS test control plane instead of files (each object encoded
    /// to protobuf by Python from our `.proto` definitions): the same routing, subsets and weights.
    @Test(.enabled(if: XDSControlPlane.available)) func theSameObjectsServedOverXDSRouteTheSame() async throws {
        let plane = try await XDSControlPlane()
        defer { plane.stop() }
        let directory = GatewayProcess.packageRoot.appendingPathComponent("config/examples/bookinfo")
        var byKind: [String: [[String: Any]]] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".yaml") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            for case let object as [String: Any] in try Yams.load_all(yaml: text) {
                byKind[object["kind"] as? String ?? "", default: []].append(object)
            }
        }
        #expect(byKind.keys.sorted() == ["DestinationRule", "Gateway", "ServiceEntry", "VirtualService"])
        for (kind, objects) in byKind { try plane.put("networking.istio.io/v1/\(kind)", objects) }
        try await self.withBookinfo(overXDS: plane) { _ in
            let page = try Curl.get("http://127.0.0.1:\(Self.listenerPort)/productpage")
            #expect(page.status == 200)
            #expect(try Self.json(page.body)["service"] as? String == "productpage")
            #expect(try Curl.get("http://127.0.0.1:\(Self.listenerPort)/").status == 404)
            let jason = try Curl.get(
                "http://127.0.0.1:\(Self.listenerPort)/reviews/0",
                ["-H", "Host: \(Self.reviewsHost)", "-H", "end-user: jason"])
            #expect(try Self.json(jason.body)["version"] as? String == "v2")
            let versions = try (0..<40).map { _ in
                try Self.json(try Curl.get(
                    "http://127.0.0.1:\(Self.listenerPort)/reviews/1", ["-H", "Host: \(Self.reviewsHost)"]).body)["version"]
                    as? String ?? "?"
            }
            #expect(Set(versions).isSubset(of: ["v1", "v3"]) && versions.contains("v1"), "\(versions)")
        }
    }
}
