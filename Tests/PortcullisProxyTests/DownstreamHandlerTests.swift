import NIOCore
import NIOEmbedded
import NIOPosix
import PortcullisModel
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream
import Foundation
import Testing

@testable import PortcullisProxy

/// The downstream handler on an `EmbeddedChannel`, with routes compiled from inline YAML: local replies,
/// framing errors, pipelining and keep-alive, all without sockets.
struct DownstreamHandlerTests {
    static let yaml = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: istio-system}
        spec:
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
          - port: {number: 8080, name: http-secure, protocol: HTTP}
            hosts: ["secure.example.com"]
            tls: {httpsRedirect: true}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs, namespace: istio-system}
        spec:
          hosts: ["*"]
          gateways: [gw]
          http:
          - match: [{uri: {exact: /hello}}]
            directResponse: {status: 200, body: {string: "hi"}}
            headers: {response: {set: {x-from: vs}}}
          - match: [{uri: {prefix: /old/}}]
            redirect: {prefixRewrite: /new/}
          - match: [{uri: {exact: /nowhere}}]
            route: [{destination: {host: missing.example.com}}]
          - match: [{uri: {prefix: /api}}]
            directResponse: {status: 200, body: {string: "api"}}
            corsPolicy:
              allowOrigins: [{exact: "https://app.example.com"}, {regex: "https://.*\\\\.trusted\\\\.org"}]
              allowMethods: [GET, POST]
              allowHeaders: [x-token]
              exposeHeaders: [x-trace]
              maxAge: 24h
              allowCredentials: true
        """

    /// A channel whose handler serves port 8080 of the compiled YAML.
    private func makeChannel(
        yaml: String = Self.yaml, metrics: GatewayMetrics = GatewayMetrics(gatewayName: "test", namespace: "istio-system")
    ) throws -> EmbeddedChannel {
        let loaded = ConfigLoader().load(yaml: yaml)
        #expect(loaded.errors.isEmpty)
        let routing = RouteCompiler.compile(loaded.config, options: RoutingOptions())
        let clusters = ClusterCatalog.build(
            config: loaded.config, keys: routing.table.clusterKeys, gatewayNamespace: "istio-system")
        let snapshot = GatewaySnapshot(
            version: "test", config: loaded.config, routing: routing.table, clusters: clusters.catalog)
        let loop = EmbeddedEventLoop()
        let services = ProxyServices(
            metrics: metrics,
            accessLog: try AccessLogger(destination: .off, format: .text),
            dns: DNSCache(threadPool: NIOThreadPool.singleton))
        let worker = Worker(eventLoop: loop, services: services)
        worker.install(snapshot)
        let channel = EmbeddedChannel(
            handler: DownstreamHTTP1Handler(worker: worker, listenerPort: 8080, scheme: "http"), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1234)).wait()
        return channel
    }

    private func send(_ channel: EmbeddedChannel, _ text: String) throws -> String {
        try channel.writeInbound(ByteBuffer(string: text))
        var out = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            out += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return out
    }

    @Test func unknownPathIs404WithEmptyBodyAndKeepsTheConnection() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /missing HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(out.contains("content-length: 0\r\n"))
        #expect(out.contains("server: portcullis\r\n"))
        #expect(channel.isActive)
    }

    @Test func directResponseCarriesBodyTypeAndRouteHeaders() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.contains("content-type: text/plain\r\n"))
        #expect(out.contains("x-from: vs\r\n"))
        #expect(out.hasSuffix("\r\n\r\nhi"))
    }

    @Test func headRequestGetsHeadersWithoutBody() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(out.contains("content-length: 2\r\n"))
        #expect(out.hasSuffix("\r\n\r\n"))
    }

    @Test func redirectReplacesThePrefixAndKeepsTheQuery() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /old/a?b=1 HTTP/1.1\r\nHost: shop.example.com:8080\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 301 Moved Permanently\r\n"))
        #expect(out.contains("location: http://shop.example.com:8080/new/a?b=1\r\n"))
    }

    @Test func httpsRedirectKeepsHostAndPath() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /x?y HTTP/1.1\r\nHost: secure.example.com\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 301 "))
        #expect(out.contains("location: https://secure.example.com/x?y\r\n"))
    }

    @Test func routeToUnknownHostIs503NoCluster() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(out.contains("content-length: 0\r\n"))
    }

    @Test func http10Gets426AndClose() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "GET /hello HTTP/1.0\r\nHost: a\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(out.contains("connection: close\r\n"))
    }

    @Test func malformedRequestGets400AndTheConnectionCloses() throws {
        let channel = try self.makeChannel()
        let out = try self.send(
            channel, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(out.contains("connection: close\r\n"))
        #expect(!channel.isActive)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let channel = try self.makeChannel()
        let out = try self.send(
            channel,
            "GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\n\r\nGET /old/z HTTP/1.1\r\nHost: a\r\n\r\n")
        let statuses = out.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["200", "404", "301"])
    }

    @Test func unreadSmallBodyIsDrainedAndTheNextRequestStillParses() throws {
        let channel = try self.makeChannel()
        let out = try self.send(
            channel,
            "POST /missing HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        // The 5 body bytes ("GET /") are the first request's body, never a request of their own.
        let statuses = out.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
        #expect(statuses == ["404", "400"])
        #expect(!channel.isActive)
    }

    @Test func unreadLargeBodyClosesTheConnectionAfterTheReply() throws {
        let channel = try self.makeChannel()
        let out = try self.send(channel, "POST /missing HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc")
        #expect(out.hasPrefix("HTTP/1.1 404 "))
        #expect(out.contains("connection: close\r\n"))
    }

    @Test func corsPreflightFromAnAllowedOriginIsAnsweredLocally() throws {
        let channel = try self.makeChannel()
        let out = try self.send(
            channel,
            "OPTIONS /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\n"
                + "Access-Control-Request-Method: POST\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.contains("access-control-allow-origin: https://app.example.com\r\n"))
        #expect(out.contains("access-control-allow-methods: GET,POST\r\n"))
        #expect(out.contains("access-control-allow-headers: x-token\r\n"))
        #expect(out.contains("access-control-max-age: 86400\r\n"))
        #expect(out.contains("access-control-allow-credentials: true\r\n"))
    }

    @Test func corsEchoesOnlyAllowedOrigins() throws {
        let channel = try self.makeChannel()
        let allowed = try self.send(
            channel, "GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://eu.trusted.org\r\n\r\n")
        #expect(allowed.contains("access-control-allow-origin: https://eu.trusted.org\r\n"))
        #expect(allowed.contains("access-control-expose-headers: x-trace\r\n"))
        let denied = try self.send(channel, "GET /api/x HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\r\n")
        #expect(denied.hasPrefix("HTTP/1.1 200 "))
        #expect(!denied.contains("access-control-allow-origin"))
    }

    @Test func registryOnlyMeshConfigAnswersUnknownHostsWith502() throws {
        let mesh = """
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |
                outboundTrafficPolicy:
                  mode: REGISTRY_ONLY
            """
        // Only shop.example.com is bound, so any other Host is undeclared.
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: istio-system}
            spec:
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop, namespace: istio-system}
            spec:
              hosts: [shop.example.com]
              gateways: [gw]
              http:
              - directResponse: {status: 200, body: {string: "shop"}}
            """ + "\n" + mesh
        let metrics = GatewayMetrics(gatewayName: "test", namespace: "istio-system")
        let channel = try self.makeChannel(yaml: yaml, metrics: metrics)
        let unknown = try self.send(channel, "GET /hello HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n")
        #expect(unknown.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let known = try self.send(channel, "GET /hello HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
        #expect(known.hasPrefix("HTTP/1.1 200 OK\r\n"))
        // The refusal is counted as egress, by reason (never by the requested host).
        let text = metrics.renderPrometheus()
        let line = text.split(separator: "\n").first { $0.hasPrefix("portcullis_egress_attempts_total{") }
        #expect(line?.contains("reason=\"not_in_registry\"") == true, "\(text)")
        #expect(line?.contains("mode=\"gateway\"") == true && line?.hasSuffix(" 1") == true, "\(text)")
        #expect(!text.contains("elsewhere.example"))
    }
}
