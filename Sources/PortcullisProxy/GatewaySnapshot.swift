import PortcullisModel
import PortcullisRouting
import PortcullisUpstream

/// One immutable, compiled configuration: what every request on every event loop reads.
///
/// Built off the event loops by the server (ARCHITECTURE "Config becomes a snapshot"), installed on each loop's
/// `Worker`; a request keeps the snapshot it started with until it ends.
public final class GatewaySnapshot: Sendable {
    /// Short content hash of the resources, shown in `/config_dump` and the logs.
    public let version: String
    public let config: ConfigSet
    public let routing: RoutingTable
    public let clusters: ClusterCatalog
    public let tls: TLSMaterial
    /// The Kubernetes Service endpoints the clusters were built with (empty for file config).
    public let endpoints: ServiceEndpoints

    public init(
        version: String, config: ConfigSet, routing: RoutingTable, clusters: ClusterCatalog,
        tls: TLSMaterial = TLSMaterial(), endpoints: ServiceEndpoints = ServiceEndpoints()
    ) {
        self.endpoints = endpoints
        self.version = version
        self.config = config
        self.routing = routing
        self.clusters = clusters
        self.tls = tls
    }
}
