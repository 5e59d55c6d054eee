import Prometheus

/// A counter other modules can keep and increment without importing Prometheus.
///
/// Obtained once (at startup or compile time) from `GatewayMetrics.counter(_:help:labels:)`; incrementing is one
/// relaxed atomic add.
public struct MetricCounter: Sendable {
    let counter: Counter

    /// Adds `amount` (must not be negative).
    @inline(__always)
    public func increment(by amount: Int = 1) {
        self.counter.increment(by: Int64(amount))
    }
}

/// A gauge other modules can keep and set without importing Prometheus.
public struct MetricGauge: Sendable {
    let gauge: Gauge

    public func set(_ value: Double) {
        self.gauge.set(to: value)
    }

    public func increment(by amount: Double = 1) {
        self.gauge.increment(by: amount)
    }

    public func decrement(by amount: Double = 1) {
        self.gauge.decrement(by: amount)
    }
}
