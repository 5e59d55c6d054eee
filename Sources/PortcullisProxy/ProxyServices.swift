import NIOCore
import NIOConcurrencyHelpers
import PortcullisHTTP2
import PortcullisObservability
import PortcullisUpstream

/// Process-wide services the data plane shares across event loops. Everything here is `Sendable` and cheap to
/// call from any loop.
public final class ProxyServices: Sendable {
    public let metrics: GatewayMetrics
    public let accessLog: AccessLogger
    public let dns: DNSCache
    /// Value of the `server` header on every response (Istio sends `istio-envoy`).
    public let serverName: String
    public let limits: ProxyLimits
    private let draining = NIOLockedValueBox(false)

    public init(
        metrics: GatewayMetrics, accessLog: AccessLogger, dns: DNSCache, serverName: String = "portcullis",
        limits: ProxyLimits = ProxyLimits()
    ) {
        self.metrics = metrics
        self.accessLog = accessLog
        self.dns = dns
        self.serverName = serverName
        self.limits = limits
    }

    /// True once SIGTERM started the drain: keep-alive connections close after their current response.
    public var isDraining: Bool { self.draining.withLockedValue { $0 } }
    public func startDraining() { self.draining.withLockedValue { $0 = true } }
}

/// Limits of the data plane (HARDENING.md §C).
public struct ProxyLimits: Sendable {
    /// Pipelined bytes buffered beyond the request being served before reading stops.
    public var maxPipelinedBytes: Int = 64 * 1024
    /// Downstream idle timeout between requests (Istio gateway default: 1 h).
    public var downstreamIdleTimeout: TimeAmount = .hours(1)
    /// Time allowed to receive a complete request head.
    public var requestHeadTimeout: TimeAmount = .seconds(60)
    /// Request bodies up to this size are kept so a connect-failure retry can resend them.
    public var retryBufferBytes: Int = 1 << 20
    /// Forward-proxy CONNECT tunnels close after this long without a byte either way (TCP routes use their
    /// cluster's `idleTimeout`); Envoy's TCP proxy default, 1 h.
    public var tunnelIdleTimeout: TimeAmount = .hours(1)
    /// Downstream HTTP/2: max concurrent streams (default 100), stream and connection receive windows, and the
    /// abuse limits of HARDENING §B3.
    public var http2 = HTTP2Settings()
    /// An HTTP/2 response whose data waited this long for the client's flow-control window without a byte of
    /// progress is reset, releasing its upstream (Envoy's stream_flush_timeout, which defaults to the 5 min
    /// stream idle timeout; HARDENING §B3.8); an HTTP/2 connection whose socket took no byte for this long (the
    /// client stopped reading; the kernel takes bytes again once a third of its send buffer is free) is closed.
    /// Detected within 1.5x this time.
    public var streamFlushTimeout: TimeAmount = .minutes(5)
    /// New downstream HTTP/2 requests started per I/O cycle (one socket-readable event, i.e. the reads up to
    /// `channelReadComplete`) of one connection; the rest wait for a later event-loop tick, at least one poll for
    /// input later (a 1 ms timer), so a RST_STREAM that arrives meanwhile cancels them before anything goes
    /// upstream (Envoy's `http.max_requests_per_io_cycle`; HARDENING §B3.1). With 100 concurrent streams the
    /// default only bites when streams are reset and reopened within one cycle; lower it to cut the requests an
    /// in-flight rapid reset can start, at up to 1 ms of delay per batch for clients that open more at once.
    public var http2MaxRequestsPerIOCycle: Int = 100
    public init() {}
}
