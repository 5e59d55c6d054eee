import PortcullisTLS

/// The TLS contexts of one snapshot, built off the event loops with the rest of the config (certificate files
/// and Secrets are read there). A new snapshot brings new contexts, which is how certificate rotation reaches new
/// handshakes while established connections keep theirs.
public struct TLSMaterial: Sendable {
    /// Server contexts per terminating Gateway server, keyed by `ServerKey`.
    public var servers: [ServerKey: TLSContext]
    /// Client contexts per upstream cluster name, for DestinationRule TLS origination.
    public var clusters: [String: TLSContext]

    public init(servers: [ServerKey: TLSContext] = [:], clusters: [String: TLSContext] = [:]) {
        self.servers = servers
        self.clusters = clusters
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
