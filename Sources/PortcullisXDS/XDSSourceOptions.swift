import PortcullisGRPC
import PortcullisTLS

/// Where and how to reach istiod (or a local istio-agent) for `--xds-address`.
public struct XDSSourceOptions: Sendable {
    /// `HOST:PORT` or a Unix socket.
    public var target: GRPCTransportConfiguration.Target
    /// The `:authority` and, with TLS, the SNI and the name the certificate must carry.
    public var authority: String
    /// TLS to istiod (port 15012): the CA bundle the server certificate must chain to (istio-ca-root-cert's
    /// `root-cert.pem`); nil means plaintext (port 15010, or a local agent's socket).
    public var caFile: String?
    /// A bearer token sent as `authorization` on every stream, re-read on each reconnect (rotation).
    public var tokenFile: String?
    /// Sent as the `ClusterID` header and node metadata `CLUSTER_ID`.
    public var clusterID: String
    public var node: XDSNodeIdentity
    public var kinds: [XDSKind]
    /// Reconnect delays: doubling from `initialBackoff` up to `maximumBackoff`, with jitter.
    public var initialBackoff: Duration = .milliseconds(500)
    public var maximumBackoff: Duration = .seconds(30)

    public init(
        target: GRPCTransportConfiguration.Target, authority: String = "istiod.istio-system.svc",
        caFile: String? = nil, tokenFile: String? = nil, clusterID: String = "Kubernetes",
        node: XDSNodeIdentity, kinds: [XDSKind] = XDSKind.gatewayKinds(.v1)
    ) {
        self.target = target
        self.authority = authority
        self.caFile = caFile
        self.tokenFile = tokenFile
        self.clusterID = clusterID
        self.node = node
        self.kinds = kinds
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH`.
    public static func parseTarget(_ text: String) -> GRPCTransportConfiguration.Target? {
        if text.hasPrefix("unix:") {
            var path = String(text.dropFirst("unix:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // unix:///abs/path
            return path.isEmpty ? nil : .unixDomainSocket(path)
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : .host(host, port: port)
    }

    /// The transport configuration (the TLS context is built here; a bad CA file throws).
    func transport() throws -> GRPCTransportConfiguration {
        var tls: TLSContext?
        if let caFile {
            tls = try TLSContext.client(
                TLSClientConfiguration(
                    trustRoots: .file(caFile), serverName: self.authority, verifyHostname: self.authority,
                    alpn: ["h2"]))
        }
        return GRPCTransportConfiguration(
            target: self.target, authority: self.authority, tls: tls, serverName: tls == nil ? nil : self.authority)
    }
}
