import PortcullisModel
import PortcullisRouting

/// Every cluster the route table references, built once per config snapshot (ISTIO-SEMANTICS §3, §4).
///
/// Immutable and `Sendable`; the server builds it off the event loops next to the route table and installs both
/// together. A key with no cluster here is answered 503 NC by the proxy; a cluster with no endpoints, 503 UH.
public struct ClusterCatalog: Sendable {
    public let clusters: [ClusterKey: Cluster]

    public init(clusters: [ClusterKey: Cluster] = [:]) {
        self.clusters = clusters
    }

    public subscript(key: ClusterKey) -> Cluster? {
        self.clusters[key]
    }

    /// Builds the clusters for `keys` from the ServiceEntries and DestinationRules visible from `gatewayNamespace`.
    ///
    /// A key whose host no ServiceEntry declares (exactly, or by a wildcard host of a STATIC or DNS-with-endpoints
    /// entry), whose port the entry does not declare, or whose subset no applicable DestinationRule defines gets no
    /// cluster, and a warning explains why. A subset whose labels match no endpoint gets a cluster with zero
    /// endpoints.
    ///
    /// - Parameters:
    ///   - workloadLabels: the gateway's own labels, for DestinationRules with a `workloadSelector`; nil ignores
    ///     such rules.
    ///   - rootNamespace: the mesh root namespace searched last for DestinationRules (§3.1).
    ///   - endpoints: the ready endpoints of the Kubernetes Services in `config.services`; each Service counts as
    ///     the ServiceEntry Istio synthesizes for it (``KubernetesService/serviceEntry(domain:endpoints:)``).
    public static func build(
        config: ConfigSet, keys: Set<ClusterKey>, gatewayNamespace: String, domain: String = "cluster.local",
        workloadLabels: [String: String]? = nil, rootNamespace: String = "istio-system",
        endpoints: ServiceEndpoints = ServiceEndpoints()
    ) -> (catalog: ClusterCatalog, diagnostics: [ConfigDiagnostic]) {
        let synthetic = config.services.map { $0.serviceEntry(domain: domain, endpoints: endpoints[service: $0.key]) }
        var builder = ClusterBuilder(
            entries: ServiceEntryIndex(entries: config.serviceEntries + synthetic, gatewayNamespace: gatewayNamespace),
            rules: DestinationRuleIndex(
                rules: config.destinationRules, gatewayNamespace: gatewayNamespace, domain: domain,
                rootNamespace: rootNamespace, workloadLabels: workloadLabels))
        var clusters: [ClusterKey: Cluster] = [:]
        for key in keys.sorted(by: { $0.description < $1.description }) {
            if let cluster = builder.build(key) { clusters[key] = cluster }
        }
        return (ClusterCatalog(clusters: clusters), builder.diagnostics)
    }

    /// This catalog with the clusters of `fresh` whose endpoints differ, and its own objects everywhere else, for an
    /// endpoint-only update: both must come from the same config, so only endpoints can differ. Keeping the
    /// unchanged objects keeps each event loop's load-balancer and outlier state for them.
    public func updatingEndpoints(from fresh: ClusterCatalog) -> (catalog: ClusterCatalog, changed: [ClusterKey]) {
        var clusters: [ClusterKey: Cluster] = [:]
        var changed: [ClusterKey] = []
        for (key, cluster) in fresh.clusters {
            if let old = self.clusters[key], old.endpoints == cluster.endpoints {
                clusters[key] = old
            } else {
                clusters[key] = cluster
                changed.append(key)
            }
        }
        return (ClusterCatalog(clusters: clusters), changed.sorted { $0.description < $1.description })
    }
}
