import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import PortcullisHTTP2
import PortcullisModel
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream
import Testing

@testable import PortcullisProxy

/// The per-I/O-cycle request cap of the downstream HTTP/2 handler (Envoy's `http.max_requests_per_io_cycle`,
/// HARDENING §B3.1): requests over the cap wait a tick, and a reset that arrives meanwhile cancels them unstarted.
struct DownstreamHTTP2CycleCapTests {
    static let yaml = """
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
        metadata: {name: vs, namespace: istio-system}
        spec:
          hosts: ["*"]
          gateways: [gw]
          http:
          - directResponse: {status: 200, body: {string: "hi"}}
        """

    /// A client session talking to the handler on an `EmbeddedChannel`, with the cap set to `cap`.
    final class Harness {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let client: HTTP2ClientSession
        var responses: Set<Int32> = []

        init(cap: Int) throws {
            let loaded = ConfigLoader().load(yaml: DownstreamHTTP2CycleCapTests.yaml)
            let routing = RouteCompiler.compile(loaded.config, options: RoutingOptions())
            let clusters = ClusterCatalog.build(
                config: loaded.config, keys: routing.table.clusterKeys, gatewayNamespace: "istio-system")
            let snapshot = GatewaySnapshot(
                version: "test", config: loaded.config, routing: routing.table, clusters: clusters.catalog)
            var limits = ProxyLimits()
            limits.http2MaxRequestsPerIOCycle = cap
            let services = ProxyServices(
                metrics: GatewayMetrics(gatewayName: "test", namespace: "istio-system"),
                accessLog: try AccessLogger(destination: .off, format: .text),
                dns: DNSCache(threadPool: NIOThreadPool.singleton), limits: limits)
            let worker = Worker(eventLoop: self.loop, services: services)
            worker.install(snapshot)
            let handler = try #require(DownstreamHTTP2Handler.make(worker: worker, listenerPort: 8080, scheme: "http"))
            self.channel = EmbeddedChannel(handler: handler, loop: self.loop)
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1234)).wait()
            self.client = try HTTP2ClientSession(settings: HTTP2Settings())
            try self.exchange()
        }

        /// Client bytes in as one read (one I/O cycle), gateway bytes back to the client.
        func exchange() throws {
            if let bytes = self.client.pendingOutput() {
                try self.channel.writeInbound(bytes)
                self.channel.pipeline.fireChannelReadComplete()
            }
            self.loop.run()
            while let bytes = try self.channel.readOutbound(as: ByteBuffer.self) {
                for event in try self.client.receive(bytes) {
                    if case .response(let streamID, _, _) = event { self.responses.insert(streamID) }
                }
            }
        }

        func tick() throws {
            self.loop.advanceTime(by: .milliseconds(1))
            try self.exchange()
        }
    }

    private func get() -> [HTTP2Header] {
        [
            HTTP2Header(name: ":method", value: "GET"), HTTP2Header(name: ":scheme", value: "http"),
            HTTP2Header(name: ":authority", value: "a.example.com"), HTTP2Header(name: ":path", value: "/"),
        ]
    }

    @Test func requestsOverTheCapStartATickLater() throws {
        let harness = try Harness(cap: 5)
        let ids = try (0..<12).map { _ in try harness.client.startRequest(headers: self.get(), endStream: true) }
        try harness.exchange()
        #expect(harness.responses == Set(ids.prefix(5)))
        try harness.tick()
        #expect(harness.responses == Set(ids.prefix(10)))
        try harness.tick()
        #expect(harness.responses == Set(ids))
    }

    @Test func aResetBeforeTheTickCancelsAWaitingRequest() throws {
        let harness = try Harness(cap: 5)
        let ids = try (0..<12).map { _ in try harness.client.startRequest(headers: self.get(), endStream: true) }
        try harness.exchange()
        #expect(harness.responses == Set(ids.prefix(5)))
        // The rapid-reset client's RST_STREAMs arrive in the next read, before the waiting requests started.
        for id in ids.dropFirst(5) { harness.client.resetStream(streamID: id, errorCode: HTTP2ErrorCode.cancel) }
        try harness.exchange()
        try harness.tick()
        try harness.tick()
        #expect(harness.responses == Set(ids.prefix(5)))
        // The connection goes on.
        let late = try harness.client.startRequest(headers: self.get(), endStream: true)
        try harness.exchange()
        #expect(harness.responses.contains(late))
    }

    @Test func theDefaultCapDoesNotDelayAFullBurst() throws {
        let harness = try Harness(cap: ProxyLimits().http2MaxRequestsPerIOCycle)
        let ids = try (0..<100).map { _ in try harness.client.startRequest(headers: self.get(), endStream: true) }
        try harness.exchange()
        #expect(harness.responses == Set(ids))
    }
}
