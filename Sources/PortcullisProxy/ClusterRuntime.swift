import NIOCore
import PortcullisHTTP2
import PortcullisUpstream

/// One event loop's view of a cluster: its load balancer and everything per request that can be computed once
/// (endpoint keys, metric label values, timeouts as `TimeAmount`).
final class ClusterRuntime {
    let cluster: Cluster
    let balancer: LoadBalancer
    /// `ip:port` per endpoint index, the pool and in-flight keys.
    let endpointKeys: [String]
    let serviceName: String?
    let serviceNamespace: String?
    let connectTimeout: TimeAmount
    let idleTimeoutSeconds: Int64
    /// Passive health per endpoint (nil when the DestinationRule has no `outlierDetection`).
    let outlier: OutlierTracker?
    /// Limits and settings for this cluster's HTTP/2 connections.
    let http2Options: UpstreamPool.HTTP2Options
    /// Which address of a DNS answer a new connection takes (`DNS` rotates, `DNS_ROUND_ROBIN` takes the first).
    var addressPicker = DNSAddressPicker()

    init(cluster: Cluster) {
        self.cluster = cluster
        self.balancer = cluster.makeLoadBalancer()
        self.endpointKeys = cluster.endpoints.map(\.description)
        let parts = cluster.key.host.split(separator: ".")
        self.serviceName = parts.count >= 2 ? String(parts[0]) : nil
        self.serviceNamespace = parts.count >= 2 ? String(parts[1]) : nil
        self.connectTimeout = TimeAmount(cluster.limits.connectTimeout)
        let idle = cluster.limits.idleTimeout.components.seconds
        // `0s` means "never close idle connections" (Istio); one day stands in for never.
        self.idleTimeoutSeconds = idle <= 0 ? 86_400 : idle
        self.outlier = cluster.outlier.map { OutlierTracker(policy: $0, endpointCount: cluster.endpoints.count) }
        // Response windows: 256 KiB per stream within 1 MiB per connection, refilled only as the client reads.
        self.http2Options = UpstreamPool.HTTP2Options(
            streamLimit: cluster.limits.maxConcurrentStreams ?? Int.max,
            requestLimit: cluster.limits.maxRequestsPerConnection,
            idleTimeout: .seconds(self.idleTimeoutSeconds),
            settings: HTTP2Settings(initialWindowSize: 256 * 1024, connectionWindowSize: 1024 * 1024))
    }
}

@available(*, unavailable)
extension ClusterRuntime: Sendable {}
