import PortcullisModel

/// Mutable scratch state of one `RouteCompiler.compile` call; never escapes it.
final class CompileState {
    let config: ConfigSet
    let options: RoutingOptions
    private(set) var diagnostics: [ConfigDiagnostic] = []
    private var reported: Set<String> = []
    var clusterKeys: Set<ClusterKey> = []
    /// Translated routes per (VS index, gateway id, port); a VS bound through several servers is translated once.
    var routeCache: [String: [Route]] = [:]
    /// DestinationRule host (expanded) → subset names, for the "subset not found" warning (§8.8).
    let subsets: [String: Set<String>]

    init(config: ConfigSet, options: RoutingOptions) {
        self.config = config
        self.options = options
        var subsets: [String: Set<String>] = [:]
        for dr in config.destinationRules {
            let host = HostNames.expand(dr.host, namespace: dr.meta.namespace, domain: options.domain).lowercased()
            subsets[host, default: []].formUnion(dr.subsets.map(\.name))
        }
        self.subsets = subsets
    }

    /// Records a problem, once per distinct message (a VS translated for several servers reports once).
    func report(
        _ severity: ConfigDiagnostic.Severity, kind: String, meta: ObjectMeta, path: String, _ message: String
    ) {
        let d = ConfigDiagnostic(
            severity: severity, file: meta.position.file, line: meta.line(of: path), kind: kind,
            namespace: meta.namespace, name: meta.name, fieldPath: path, message: message)
        if self.reported.insert(d.description).inserted { self.diagnostics.append(d) }
    }

    /// Destination → cluster key, defaulting the port to the Service's or ServiceEntry's only port, else the gateway
    /// server's declared port (§2.4); short names expand with the referencing object's namespace (§6).
    func clusterKey(_ d: Destination, namespace: String, serverPort: Int) -> ClusterKey {
        let host = HostNames.expand(d.host, namespace: namespace, domain: self.options.domain)
        let port = d.port ?? self.onlyServiceEntryPort(host) ?? serverPort
        let subset = d.subset.flatMap { $0.isEmpty ? nil : $0 }
        let key = ClusterKey(host: host, subset: subset, port: port)
        self.clusterKeys.insert(key)
        return key
    }

    /// Whether a subset is declared by some DestinationRule for `host` (only used for a warning).
    func subsetKnown(host: String, subset: String) -> Bool {
        self.subsets[host.lowercased()]?.contains(subset) ?? false
    }

    private func onlyServiceEntryPort(_ host: String) -> Int? {
        let h = host.lowercased()
        if let service = self.config.services.first(where: { $0.hostname(domain: self.options.domain) == h }) {
            return service.ports.count == 1 ? service.ports[0].number : nil
        }
        let exact = self.config.serviceEntries.first { $0.hosts.contains { $0.lowercased() == h } }
        let entry = exact ?? self.config.serviceEntries.first { se in
            se.hosts.contains { HostNames.covers($0.lowercased(), h) }
        }
        guard let entry, entry.ports.count == 1 else { return nil }
        return entry.ports[0].number
    }
}
