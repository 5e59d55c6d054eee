import PortcullisModel
import PortcullisProxy
import PortcullisRouting
import PortcullisUpstream

/// Turns loaded resources into a `GatewaySnapshot`: route compilation, cluster building and a content version.
/// Runs off the event loops (ARCHITECTURE "Config becomes a snapshot", steps 3–4). `validate` uses the same path,
/// so it reports exactly what a reload would reject.
public struct SnapshotBuilder: Sendable {
    public let options: RoutingOptions

    public init(options: RoutingOptions) {
        self.options = options
    }

    public struct Outcome: Sendable {
        /// nil when the config was rejected.
        public var snapshot: GatewaySnapshot?
        /// Every error and warning, loader first.
        public var diagnostics: [ConfigDiagnostic]
        public var errors: [ConfigDiagnostic] { self.diagnostics.filter { $0.severity == .error } }
    }

    /// Compiles everything: routes, clusters (with the Kubernetes Services' `endpoints`) and TLS material.
    public func build(_ loaded: ConfigLoadResult, endpoints: ServiceEndpoints = ServiceEndpoints()) -> Outcome {
        var diagnostics = loaded.diagnostics
        let compiled = RouteCompiler.compile(loaded.config, options: self.options)
        diagnostics += compiled.diagnostics
        let clusters = self.clusters(config: loaded.config, keys: compiled.table.clusterKeys, endpoints: endpoints)
        diagnostics += clusters.diagnostics
        var tlsBuilder = TLSMaterialBuilder(config: loaded.config, gatewayNamespace: self.options.gatewayNamespace)
        let tls = tlsBuilder.build(routing: compiled.table, clusters: clusters.catalog)
        diagnostics += tlsBuilder.diagnostics
        if diagnostics.contains(where: { $0.severity == .error }) {
            return Outcome(snapshot: nil, diagnostics: diagnostics)
        }
        let version = Self.version(of: loaded.config)
        let snapshot = GatewaySnapshot(
            version: version, config: loaded.config, routing: compiled.table, clusters: clusters.catalog, tls: tls,
            endpoints: endpoints)
        return Outcome(snapshot: snapshot, diagnostics: diagnostics)
    }

    /// The endpoint-only update path: `current` with new Service endpoints. Routes and TLS material are reused
    /// as they are (no route compilation, no certificate loading); only the clusters are rebuilt, and those whose
    /// endpoints did not change keep their object, so every event loop keeps their load-balancer state. Returns
    /// nil when no cluster changed.
    public func updatingEndpoints(
        _ current: GatewaySnapshot, endpoints: ServiceEndpoints
    ) -> (snapshot: GatewaySnapshot, changed: [ClusterKey])? {
        let fresh = self.clusters(config: current.config, keys: current.routing.clusterKeys, endpoints: endpoints)
        let (catalog, changed) = current.clusters.updatingEndpoints(from: fresh.catalog)
        let snapshot = GatewaySnapshot(
            version: current.version, config: current.config, routing: current.routing, clusters: catalog,
            tls: current.tls, endpoints: endpoints)
        return changed.isEmpty ? nil : (snapshot, changed)
    }

    private func clusters(
        config: ConfigSet, keys: Set<ClusterKey>, endpoints: ServiceEndpoints
    ) -> (catalog: ClusterCatalog, diagnostics: [ConfigDiagnostic]) {
        ClusterCatalog.build(
            config: config, keys: keys, gatewayNamespace: self.options.gatewayNamespace,
            domain: self.options.domain, workloadLabels: self.options.gatewayLabels, endpoints: endpoints)
    }

    /// A stable content hash (FNV-1a 64) of the resources, printed as 16 hex digits.
    static func version(of config: ConfigSet) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in String(reflecting: config).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
