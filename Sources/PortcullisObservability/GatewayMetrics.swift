import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// The gateway's Prometheus metrics: Istio's standard request metrics plus Portcullis's own gauges and counters.
///
/// The gateway reports as Istio's ingress gateway does, `reporter="source"`, with itself as the source workload
/// (https://istio.io/latest/docs/reference/config/metrics/, "Labels"). Labels the gateway cannot know (peer
/// workload, principals without mTLS peer metadata) are `unknown`, as Istio reports them without metadata
/// exchange. `connection_security_policy` is always `unknown` for the source reporter, as in Istio.
///
/// `record(_:)` runs on the event loop at stream end: it builds a small key from the record, finds the cached
/// handles (one hash lookup under a striped lock) and does atomic adds; no label strings are built after the first
/// request of a label set.
public final class GatewayMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let cache: RequestMetricsCache
    private let reloadSuccess: Counter
    private let reloadRejected: Counter
    private let activeConnections: Gauge
    private let configInfo: NIOLockedValueBox<(version: String, gauge: Gauge)?>

    /// Creates the registry and the fixed families.
    ///
    /// - Parameters:
    ///   - gatewayName: the source workload, app and canonical service, e.g. `portcullis`.
    ///   - namespace: `source_workload_namespace`.
    ///   - clusterID: `source_cluster`; Istio's default cluster ID is `Kubernetes`.
    ///   - maxLabelSets: cap on distinct request label sets; beyond it destination labels become `unknown`.
    public init(gatewayName: String, namespace: String, clusterID: String = "unknown", maxLabelSets: Int = 10_000) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        let source: [(String, String)] = [
            ("reporter", "source"),
            ("source_workload", gatewayName),
            ("source_workload_namespace", namespace),
            ("source_app", gatewayName),
            ("source_version", MetricFamilies.unknown),
            ("source_canonical_service", gatewayName),
            ("source_canonical_revision", "latest"),
            ("source_principal", MetricFamilies.unknown),
            ("source_cluster", clusterID),
        ]
        let overflow = registry.makeCounter(
            descriptor: MetricFamilies.descriptor(
                name: MetricFamilies.labelOverflow, helpText: MetricFamilies.labelOverflowHelp))
        self.cache = RequestMetricsCache(maxLabelSets: maxLabelSets, overflowCounter: overflow) { key in
            let labels = source + Self.destinationLabels(for: key)
            return RequestHandles(
                requests: registry.makeCounter(
                    descriptor: MetricFamilies.descriptor(
                        name: MetricFamilies.requestsTotal, helpText: MetricFamilies.requestsTotalHelp),
                    labels: labels),
                duration: registry.makeValueHistogram(
                    descriptor: MetricFamilies.descriptor(
                        name: MetricFamilies.requestDuration, helpText: MetricFamilies.requestDurationHelp),
                    labels: labels, buckets: MetricFamilies.durationBucketsMs),
                requestBytes: registry.makeValueHistogram(
                    descriptor: MetricFamilies.descriptor(
                        name: MetricFamilies.requestBytes, helpText: MetricFamilies.requestBytesHelp),
                    labels: labels, buckets: MetricFamilies.sizeBuckets),
                responseBytes: registry.makeValueHistogram(
                    descriptor: MetricFamilies.descriptor(
                        name: MetricFamilies.responseBytes, helpText: MetricFamilies.responseBytesHelp),
                    labels: labels, buckets: MetricFamilies.sizeBuckets))
        }
        let reloads = MetricFamilies.descriptor(
            name: MetricFamilies.configReloads, helpText: MetricFamilies.configReloadsHelp)
        self.reloadSuccess = registry.makeCounter(descriptor: reloads, labels: [("result", "success")])
        self.reloadRejected = registry.makeCounter(descriptor: reloads, labels: [("result", "rejected")])
        self.activeConnections = registry.makeGauge(
            descriptor: MetricFamilies.descriptor(
                name: MetricFamilies.activeConnections, helpText: MetricFamilies.activeConnectionsHelp))
        self.configInfo = NIOLockedValueBox(nil)
    }

    /// Records one finished request: `istio_requests_total` +1 and one observation in each histogram
    /// (`istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`).
    public func record(_ record: RequestRecord) {
        let handles = self.cache.handles(for: RequestLabelKey(record))
        handles.requests.increment()
        handles.duration.record(Double(max(record.durationMs, 0)))
        handles.requestBytes.record(Double(max(record.bytesReceived, 0)))
        handles.responseBytes.record(Double(max(record.bytesSent, 0)))
        if record.serviceEntry != nil || record.egressRefusal != nil { self.recordEgress(record, mode: .gateway) }
    }

    /// Counts one configuration snapshot: applied (`success: true`) or rejected with the old one kept.
    public func configReloaded(success: Bool) {
        (success ? self.reloadSuccess : self.reloadRejected).increment()
    }

    /// Publishes the served configuration version as `portcullis_config_info{version="..."} 1`.
    ///
    /// The previous version's series is removed, so exactly one series exists at a time.
    public func setConfigVersion(_ version: String) {
        self.configInfo.withLockedValue { current in
            if current?.version == version {
                return
            }
            if let old = current?.gauge {
                self.registry.unregisterGauge(old)
            }
            let gauge = self.registry.makeGauge(
                descriptor: MetricFamilies.descriptor(
                    name: MetricFamilies.configInfo, helpText: MetricFamilies.configInfoHelp),
                labels: [("version", version)])
            gauge.set(to: 1)
            current = (version, gauge)
        }
    }

    /// Sets `portcullis_downstream_connections_active`.
    public func setActiveConnections(_ n: Int) {
        self.activeConnections.set(to: Double(n))
    }

    /// A counter family for other modules, created once and kept (e.g. `portcullis_h2_goaway_sent_total`).
    ///
    /// Label values must be bounded (config names, enums). Asking again with the same name and labels returns the
    /// same series; the same name must always come with the same help text and label names.
    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> MetricCounter {
        MetricCounter(
            counter: self.registry.makeCounter(
                descriptor: MetricFamilies.descriptor(name: name, helpText: help), labels: labels))
    }

    /// A gauge for other modules; same rules as `counter(_:help:labels:)`.
    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> MetricGauge {
        MetricGauge(
            gauge: self.registry.makeGauge(
                descriptor: MetricFamilies.descriptor(name: name, helpText: help), labels: labels))
    }

    /// The Prometheus text exposition (format 0.0.4) of every family, for `GET /stats/prometheus`.
    public func renderPrometheus() -> String {
        self.registry.emitToString()
    }

    /// Writes the exposition into a `ByteBuffer`, for serving without a `String` round trip.
    public func renderPrometheus(into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        self.registry.emit(into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// The number of distinct request label sets created so far.
    public var requestLabelSetCount: Int {
        self.cache.count
    }

    /// Destination and response labels of a key, in `MetricFamilies.requestLabelNames` order.
    static func destinationLabels(for key: RequestLabelKey) -> [(String, String)] {
        let unknown = MetricFamilies.unknown
        let version = key.destinationVersion
        return [
            ("destination_workload", unknown),
            ("destination_workload_namespace", key.destinationServiceNamespace),
            ("destination_app", unknown),
            ("destination_version", version),
            ("destination_service", key.destinationService),
            ("destination_service_name", key.destinationServiceName),
            ("destination_service_namespace", key.destinationServiceNamespace),
            ("destination_canonical_service", key.destinationServiceName),
            ("destination_canonical_revision", version == unknown ? "latest" : version),
            ("destination_principal", unknown),
            ("destination_cluster", unknown),
            ("request_protocol", key.isGRPC ? "grpc" : "http"),
            ("response_code", String(key.responseCode)),
            ("grpc_response_status", key.grpcStatus >= 0 ? String(key.grpcStatus) : ""),
            ("response_flags", key.responseFlags.description),
            ("connection_security_policy", unknown),
        ]
    }
}
