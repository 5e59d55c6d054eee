import Prometheus

/// Every metric family Portcullis exports, declared in one place (STYLE.md rule 12).
///
/// The `istio_*` families copy the names, label names and buckets of Istio's standard metrics
/// (https://istio.io/latest/docs/reference/config/metrics/) so Kiali and the Istio Grafana dashboards work
/// unchanged (USER-ASKS.md #31). The `portcullis_*` families are our own.
enum MetricFamilies {
    /// `istio_requests_total`: one increment per finished request.
    static let requestsTotal = "istio_requests_total"
    static let requestsTotalHelp = "Total requests handled, by Istio standard labels."

    /// `istio_request_duration_milliseconds`: request duration histogram.
    static let requestDuration = "istio_request_duration_milliseconds"
    static let requestDurationHelp = "Request duration in milliseconds."

    /// `istio_request_bytes`: request body size histogram.
    static let requestBytes = "istio_request_bytes"
    static let requestBytesHelp = "Request body size in bytes."

    /// `istio_response_bytes`: response body size histogram.
    static let responseBytes = "istio_response_bytes"
    static let responseBytesHelp = "Response body size in bytes."

    /// Istio's duration buckets (Envoy's default histogram buckets), in milliseconds.
    static let durationBucketsMs: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
        3600000,
    ]

    /// Istio's size buckets for `istio_request_bytes` and `istio_response_bytes`: powers of ten up to 1 GB.
    static let sizeBuckets: [Double] = [1, 10, 100, 1000, 10000, 100000, 1e6, 1e7, 1e8, 1e9]

    /// `portcullis_config_reloads_total{result="success"|"rejected"}` (ARCHITECTURE.md, "Config becomes a
    /// snapshot", steps 4 and 5).
    static let configReloads = "portcullis_config_reloads_total"
    static let configReloadsHelp = "Configuration snapshots applied (success) or rejected, keeping the previous one."

    /// `portcullis_config_info{version="..."} 1`: the version of the snapshot being served.
    static let configInfo = "portcullis_config_info"
    static let configInfoHelp = "Always 1; the version label names the configuration snapshot being served."

    /// `portcullis_downstream_connections_active`.
    static let activeConnections = "portcullis_downstream_connections_active"
    static let activeConnectionsHelp = "Downstream connections currently open."

    /// `portcullis_metrics_label_sets_overflow_total`: requests whose labels were folded into `unknown` because
    /// the label-set cap was reached.
    static let labelOverflow = "portcullis_metrics_label_sets_overflow_total"
    static let labelOverflowHelp = "Requests recorded with destination labels set to unknown because the cap was hit."

    /// Istio label names of the request families, in the order they are exported.
    static let requestLabelNames: [String] = [
        "reporter",
        "source_workload", "source_workload_namespace", "source_app", "source_version",
        "source_canonical_service", "source_canonical_revision", "source_principal", "source_cluster",
        "destination_workload", "destination_workload_namespace", "destination_app", "destination_version",
        "destination_service", "destination_service_name", "destination_service_namespace",
        "destination_canonical_service", "destination_canonical_revision", "destination_principal",
        "destination_cluster",
        "request_protocol", "response_code", "grpc_response_status", "response_flags",
        "connection_security_policy",
    ]

    /// The value Istio uses for a label it cannot determine.
    static let unknown = "unknown"
}

extension MetricFamilies {
    /// A descriptor whose exported name is exactly `name` (no namespace, subsystem or unit suffix added).
    static func descriptor(name: String, helpText: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: helpText)
    }
}
