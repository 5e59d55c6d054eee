import PortcullisControlPlane
import PortcullisObservability

/// Metrics about the config source: API server connectivity and endpoint-only updates.
struct ControlPlaneMetrics: Sendable {
    /// `portcullis_control_plane_connected`: 1 while every watched collection reaches the API server.
    let connected: MetricGauge
    /// `portcullis_control_plane_synced`: 1 once every watched collection has been listed.
    let synced: MetricGauge
    /// `portcullis_control_plane_watch_errors_total`: failed list and watch requests.
    let watchErrors: MetricCounter
    /// `portcullis_endpoint_updates_total`: endpoint changes installed without a route rebuild.
    let endpointUpdates: MetricCounter

    init(_ metrics: GatewayMetrics) {
        self.connected = metrics.gauge(
            "portcullis_control_plane_connected",
            help: "1 while the Kubernetes API server answers every watched collection, 0 while it does not")
        self.synced = metrics.gauge(
            "portcullis_control_plane_synced", help: "1 once every watched Kubernetes collection has been listed")
        self.watchErrors = metrics.counter(
            "portcullis_control_plane_watch_errors_total", help: "Failed Kubernetes list and watch requests")
        self.endpointUpdates = metrics.counter(
            "portcullis_endpoint_updates_total",
            help: "Service endpoint changes installed without recompiling routes")
    }

    func update(health: ControlPlaneHealth, newFailures: Int) {
        self.connected.set(health.connected ? 1 : 0)
        self.synced.set(health.synced ? 1 : 0)
        if newFailures > 0 { self.watchErrors.increment(by: newFailures) }
    }
}
