import Foundation
import Testing

/// End to end through the real binary: curl → portcullis → real backends on port 0.
@Suite(.serialized)
struct RoutingIntegrationTests {
    /// Bookinfo-style set-up: productpage plus reviews v1/v2/v3 behind one gateway.
    private func start(routes: String, extraFiles: [String: String] = [:]) async throws
        -> (GatewayProcess, Int, [String: TestBackend])
    {
        var backends: [String: TestBackend] = [:]
        for name in ["productpage", "reviews-v1", "reviews-v2", "reviews-v3"] {
            backends[name] = try await TestBackend.start(name: name)
        }
        let port = try FreePort.allocate()
        var files = extraFiles
        files["gateway.yaml"] = Configs.gateway(port: port)
        files["services.yaml"] = [
            Configs.serviceEntry(
                name: "productpage", host: "productpage.bookinfo.svc.cluster.local", port: 9080,
                endpoints: [(backends["productpage"]!.port, ["app": "productpage", "version": "v1"])],
                namespace: "bookinfo"),
            Configs.serviceEntry(
                name: "reviews", host: "reviews.bookinfo.svc.cluster.local", port: 9080,
                endpoints: [
                    (backends["reviews-v1"]!.port, ["app": "reviews", "version": "v1"]),
                    (backends["reviews-v2"]!.port, ["app": "reviews", "version": "v2"]),
                    (backends["reviews-v3"]!.port, ["app": "reviews", "version": "v3"]),
                ], namespace: "bookinfo"),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              host: reviews
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
              - {name: v3, labels: {version: v3}}
              - {name: v4, labels: {version: v4}}
            """,
        ].joined(separator: "\n---\n")
        files["routes.yaml"] = routes
        let gateway = try GatewayProcess(files: files)
        try await gateway.waitUntilReady()
        return (gateway, port, backends)
    }

    private static let bookinfoRoutes = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bookinfo, namespace: bookinfo}
        spec:
          hosts: ["*"]
          gateways: [istio-system/gw]
          http:
          - name: productpage
            match:
            - uri: {exact: /productpage}
            - uri: {prefix: /static}
            route:
            - destination: {host: productpage, port: {number: 9080}}
          - name: reviews-jason
            match:
            - uri: {prefix: /reviews}
              headers:
                end-user: {exact: jason}
            route:
            - destination: {host: reviews, subset: v2}
          - name: reviews-weighted
            match:
            - uri: {prefix: /reviews}
            route:
            - destination: {host: reviews, subset: v1}
              weight: 80
            - destination: {host: reviews, subset: v3}
              weight: 20
          - name: rewrite
            match:
            - uri: {prefix: /api/}
            rewrite: {uri: /v1/, authority: internal.example}
            headers:
              request:
                set: {x-route: rewrite}
                add: {x-added: one}
                remove: [x-secret]
              response:
                set: {x-served-by: portcullis-test}
                remove: [x-backend]
            route:
            - destination: {host: productpage}
          - name: missing-subset
            match: [{uri: {exact: /nosubset}}]
            route: [{destination: {host: reviews, subset: v9}}]
          - name: empty-subset
            match: [{uri: {exact: /emptysubset}}]
            route: [{destination: {host: reviews, subset: v4}}]
          - name: hello
            match: [{uri: {exact: /hello}}]
            directResponse: {status: 200, body: {string: "hello from the gateway\\n"}}
          - name: moved
            match: [{uri: {prefix: /old/}}]
            redirect: {prefixRewrite: /new/, redirectCode: 308}
        """

    @Test func forwardsToTheMatchedDestinationWithIstioHeaders() async throws {
        let (gateway, port, backends) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let result = try Curl.get(
            "http://127.0.0.1:\(port)/productpage?x=1", ["-H", "Host: bookinfo.example.com", "-H", "X-Forwarded-For: 1.2.3.4"])
        #expect(result.status == 200)
        #expect(result.header("x-backend") == "productpage")
        #expect(result.header("server") == "portcullis")
        #expect(result.header("x-envoy-upstream-service-time") != nil)
        let seen = try #require(backends["productpage"]!.seen.last)
        #expect(seen.uri == "/productpage?x=1")
        #expect(seen.header("host") == "bookinfo.example.com")
        #expect(seen.header("x-forwarded-for") == "1.2.3.4,127.0.0.1")
        #expect(seen.header("x-forwarded-proto") == "http")
        #expect(seen.header("x-request-id")?.count == 36)
    }

    @Test func unknownPathGets404WithEmptyBody() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let result = try Curl.get("http://127.0.0.1:\(port)/")
        #expect(result.status == 404)
        #expect(result.body.isEmpty)
    }

    @Test func headerMatchSelectsSubset() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let jason = try Curl.get("http://127.0.0.1:\(port)/reviews/1", ["-H", "end-user: jason"])
        #expect(jason.header("x-backend") == "reviews-v2")
    }

    @Test func weightsSplitTrafficWithinTolerance() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let n = 1000
        let urls = (0..<n).flatMap { _ in ["-o", "/dev/null", "http://127.0.0.1:\(port)/reviews/1"] }
        let (_, out, _) = try Command.run(
            "/usr/bin/curl", ["-s", "-w", "%header{x-backend}\\n"] + urls)
        let lines = out.split(separator: "\n")
        #expect(lines.count == n)
        let v1 = lines.filter { $0 == "reviews-v1" }.count
        let v3 = lines.filter { $0 == "reviews-v3" }.count
        #expect(v1 + v3 == n)
        // 80/20 split: 800 expected; 5 standard deviations is ±63.
        #expect(abs(v1 - 800) < 64, "v1 got \(v1) of \(n)")
    }

    @Test func rewriteAndHeaderOperations() async throws {
        let (gateway, port, backends) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let result = try Curl.get(
            "http://127.0.0.1:\(port)/api/items?q=2", ["-H", "x-secret: s3cret", "-H", "x-added: zero"])
        #expect(result.status == 200)
        #expect(result.header("x-served-by") == "portcullis-test")
        #expect(result.header("x-backend") == nil)
        let seen = try #require(backends["productpage"]!.seen.last)
        #expect(seen.uri == "/v1/items?q=2")
        #expect(seen.header("host") == "internal.example")
        #expect(seen.header("x-route") == "rewrite")
        #expect(seen.header("x-added") == "zero,one")
        #expect(seen.header("x-secret") == nil)
    }

    @Test func directResponseAndRedirect() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let hello = try Curl.get("http://127.0.0.1:\(port)/hello")
        #expect(hello.status == 200)
        #expect(hello.body == "hello from the gateway\n")
        #expect(hello.header("content-type") == "text/plain")
        let moved = try Curl.get("http://127.0.0.1:\(port)/old/page?a=b", ["-H", "Host: shop.example.com"])
        #expect(moved.status == 308)
        #expect(moved.header("location") == "http://shop.example.com/new/page?a=b")
    }

    @Test func missingClusterAndEmptySubsetGive503() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        let noCluster = try Curl.get("http://127.0.0.1:\(port)/nosubset")
        #expect(noCluster.status == 503)
        #expect(noCluster.body.isEmpty)
        let noEndpoints = try Curl.get("http://127.0.0.1:\(port)/emptysubset")
        #expect(noEndpoints.status == 503)
        #expect(noEndpoints.body == "no healthy upstream")
    }

    @Test func metricsAndAccessLogRecordRequests() async throws {
        let (gateway, port, _) = try await self.start(routes: Self.bookinfoRoutes)
        defer { _ = gateway.stop() }
        _ = try Curl.get("http://127.0.0.1:\(port)/productpage")
        _ = try Curl.get("http://127.0.0.1:\(port)/missing")
        let metrics = try await gateway.metrics()
        #expect(metrics.contains("istio_requests_total"))
        #expect(metrics.contains("response_code=\"200\""))
        #expect(metrics.contains("response_code=\"404\""))
        #expect(metrics.contains("istio_request_duration_milliseconds_bucket"))
        _ = gateway.stop()
        let log = try String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)
        #expect(log.contains("\"GET /productpage HTTP/1.1\" 200"))
        #expect(log.contains("\"GET /missing HTTP/1.1\" 404 NR"))
    }
}
