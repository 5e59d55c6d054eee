import ArgumentParser
import PortcullisServer
import PortcullisXDS

/// `portcullis run` options that take config from istiod over ADS ("MCP over xDS").
struct XDSCLIOptions: ParsableArguments {
    @Option(
        help: """
            Read config from istiod's aggregated discovery service at HOST:PORT (15012 with --xds-ca-file, 15010 \\
            plaintext) or unix:PATH (a local istio-agent).
            """)
    var xdsAddress: String?

    @Option(help: "CA bundle istiod's certificate must chain to (istio-ca-root-cert's root-cert.pem); enables TLS.")
    var xdsCaFile: String?

    @Option(help: "File with the bearer token sent to istiod (e.g. /var/run/secrets/tokens/istio-token), re-read on reconnect.")
    var xdsTokenFile: String?

    @Option(help: "The :authority, SNI and certificate name of istiod.")
    var xdsAuthority: String = "istiod.istio-system.svc"

    @Option(help: "The cluster id sent to istiod (ClusterID header, CLUSTER_ID metadata).")
    var xdsClusterId: String = "Kubernetes"

    @Option(help: "Istio API versions to subscribe to: v1 (istiod 1.24 and later) or legacy (v1alpha3/v1beta1).")
    var xdsApiVersions: String = "v1"

    @Option(help: ArgumentHelp("Longest xDS reconnect delay in milliseconds (tests).", visibility: .hidden))
    var xdsBackoffMaxMilliseconds: Int = 30_000

    /// The source options, or nil without `--xds-address`.
    func sourceOptions(namespace: String, labels: [String: String]?) throws -> XDSSourceOptions? {
        guard let xdsAddress else { return nil }
        guard let target = XDSSourceOptions.parseTarget(xdsAddress) else {
            throw ValidationError("--xds-address must be HOST:PORT, [IPv6]:PORT or unix:PATH, not '\(xdsAddress)'")
        }
        guard let versions = XDSKind.APIVersions(rawValue: self.xdsApiVersions) else {
            throw ValidationError("--xds-api-versions must be v1 or legacy")
        }
        let node = XDSNodeIdentity.fromEnvironment(
            namespace: namespace, clusterID: self.xdsClusterId, labels: labels ?? [:])
        var options = XDSSourceOptions(
            target: target, authority: self.xdsAuthority, caFile: self.xdsCaFile, tokenFile: self.xdsTokenFile,
            clusterID: self.xdsClusterId, node: node, kinds: XDSKind.gatewayKinds(versions))
        let maximum = Duration.milliseconds(max(10, self.xdsBackoffMaxMilliseconds))
        options.maximumBackoff = maximum
        options.initialBackoff = min(options.initialBackoff, maximum)
        return options
    }
}
