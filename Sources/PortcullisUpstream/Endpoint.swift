import PortcullisModel

/// One upstream address a cluster can send to (ISTIO-SEMANTICS §4.1 `endpoints[]`).
///
/// `address` is an IP literal, a DNS name (for `DNS`/`DNS_ROUND_ROBIN` clusters, resolved by `DNSCache` at connect
/// time) or `unix:///abs/path`. `port` has already been chosen by the §4.1 precedence (endpoint `ports[portName]`,
/// then the ServiceEntry `targetPort`, then the port number).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public let address: String
    public let port: Int
    /// Relative load-balancing weight, always >= 1 (`WorkloadEntry.weight`, nil or 0 = 1).
    public let weight: Int
    public let labels: [String: String]

    public init(address: String, port: Int, weight: Int = 1, labels: [String: String] = [:]) {
        self.address = address
        self.port = port
        self.weight = max(1, weight)
        self.labels = labels
    }

    /// Whether this is a `unix://` socket endpoint (the port is meaningless then).
    public var isUnixSocket: Bool { self.address.hasPrefix("unix://") }

    /// The file-system path of a `unix://` endpoint, nil otherwise.
    public var unixSocketPath: String? {
        guard self.isUnixSocket else { return nil }
        return String(self.address.dropFirst("unix://".count))
    }

    /// `10.0.0.1:9080`, `[::1]:80` (IPv6 literals bracketed) or the bare `unix:///path`.
    public var description: String {
        if self.isUnixSocket { return self.address }
        if self.address.contains(":") { return "[\(self.address)]:\(self.port)" }
        return "\(self.address):\(self.port)"
    }

    /// Whether every subset label is present with the same value (DestinationRule `subsets[].labels`, §3).
    /// An empty selector selects every endpoint.
    public func matches(subsetLabels: [String: String]) -> Bool {
        subsetLabels.allSatisfy { self.labels[$0.key] == $0.value }
    }
}
