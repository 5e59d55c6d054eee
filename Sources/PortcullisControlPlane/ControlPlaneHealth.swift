import Foundation

/// How a control-plane source (a Kubernetes API server, istiod over xDS) is doing, for `/ready`, logs and metrics.
public struct ControlPlaneHealth: Sendable, Hashable {
    /// Every collection has been listed (Kubernetes) or every kind has been accepted (xDS) at least once.
    public var synced: Bool
    /// What the first sync still waits for: REST paths (Kubernetes) or type URLs (xDS).
    public var waitingFor: [String]
    /// When the current run of API failures began (the earliest over all collections); nil while connected.
    public var disconnectedSince: Date?
    /// The most recent failure message of a failing collection.
    public var lastError: String?
    /// Failed API requests since start, over all collections.
    public var totalFailures: Int

    public var connected: Bool { self.disconnectedSince == nil }

    public init(
        synced: Bool, waitingFor: [String], disconnectedSince: Date?, lastError: String?, totalFailures: Int
    ) {
        self.synced = synced
        self.waitingFor = waitingFor
        self.disconnectedSince = disconnectedSince
        self.lastError = lastError
        self.totalFailures = totalFailures
    }
}
