import PortcullisTLS

/// The TLS contexts of one snapshot, built off the event loops with the rest of the config (certificate files
/// and Secrets are read there). A new snapshot brings new contexts, which is how certificate rotation reaches new
/// handshakes while established connections keep theirs.
public struct TLSMaterial: Sendable {
    /// Server contexts per terminating Gateway server, keyed by `ServerKey`.
    public var servers: [ServerKey: TLSContext]
    /// Client contexts per upstream cluster name, for DestinationRule TLS origination (ALPN `http/1.1`).
    public var clusters: [String: TLSContext]
    /// The same for clusters that may speak HTTP/2 (ALPN `h2`).
    public var http2Clusters: [String: TLSContext]

    public init(
        servers: [ServerKey: TLSContext] = [:], clusters: [String: TLSContext] = [:],
        http2Clusters: [String: TLSContext] = [:]
    ) {
        self.servers = servers
        self.clusters = clusters
        self.http2Clusters = http2Clusters
    }

    /// The client context for a connection to `cluster` in the given HTTP version.
    public func context(cluster: String, http2: Bool) -> TLSContext? {
        http2 ? self.http2Clusters[cluster] : self.clusters[cluster]
    }

    /// A Gateway server: `namespace/name` of the Gateway and the index in its `servers`.
    public struct ServerKey: Hashable, Sendable, CustomStringConvertible {
        public var gateway: String
        public var index: Int
        public init(gateway: String, index: Int) {
            self.gateway = gateway
            self.index = index
        }
        public var description: String { "\(self.gateway) servers[\(self.index)]" }
    }
}
