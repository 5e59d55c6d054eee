import PortcullisModel
import PortcullisRouting

/// Turns one `ClusterKey` into a `Cluster`, collecting warnings for keys that cannot have one.
struct ClusterBuilder {
    let entries: ServiceEntryIndex
    let rules: DestinationRuleIndex
    private(set) var diagnostics: [ConfigDiagnostic] = []
    private var reported: Set<ConfigDiagnostic> = []

    init(entries: ServiceEntryIndex, rules: DestinationRuleIndex) {
        self.entries = entries
        self.rules = rules
    }

    mutating func build(_ key: ClusterKey) -> Cluster? {
        guard let (entry, _) = self.entries.lookup(host: key.host) else {
            self.warn(
                nil, "", "cluster \(key): no Service or ServiceEntry visible to the gateway declares host \(key.host)")
            return nil
        }
        guard let port = entry.ports.first(where: { $0.number == key.port }) else {
            let message = "cluster \(key): port \(key.port) is not declared"
            self.warn(entry.meta, "ServiceEntry", field: "spec.ports", message)
            return nil
        }
        let merged = self.rules.lookup(host: key.host, serviceNamespace: entry.meta.namespace)
        var subset: Subset?
        if let name = key.subset, !name.isEmpty {
            guard let found = merged?.subset(named: name) else {
                self.warn(nil, "", "cluster \(key): no DestinationRule for \(key.host) defines subset \(name)")
                return nil
            }
            subset = found
        }
        let policy = ResolvedTrafficPolicy.resolve(
            rule: merged?.trafficPolicy, subset: subset?.trafficPolicy, port: key.port)
        self.checkUnsupported(entry: entry)
        let endpoints = EndpointSelection.endpoints(
            of: entry, port: port, host: key.host, subsetLabels: subset?.labels ?? [:])
        return Cluster(
            key: key, serviceEntry: "\(entry.meta.namespace)/\(entry.meta.name)",
            destinationRules: merged?.sources ?? [], resolution: entry.resolution, location: entry.location,
            portProtocol: port.protocol,
            endpoints: endpoints, loadBalancer: LoadBalancerKind(policy.loadBalancer),
            limits: ConnectionLimits(policy.connectionPool), outlier: OutlierPolicy(policy.outlierDetection),
            tls: Self.tls(policy.tls, entry: entry),
            upstreamProtocol: UpstreamProtocol(port: port.protocol, connectionPool: policy.connectionPool),
            useClientProtocol: policy.connectionPool?.http?.useClientProtocol ?? false,
            hashPolicy: HashPolicy(policy.loadBalancer?.consistentHash))
    }

    /// `DISABLE` becomes nil (plaintext); the ServiceEntry's SANs apply when the rule names none (§3.5, §4.1).
    static func tls(_ settings: ClientTLSSettings?, entry: ServiceEntry) -> ClientTLSSettings? {
        guard var settings, settings.mode != .disable else { return nil }
        if settings.subjectAltNames.isEmpty { settings.subjectAltNames = entry.subjectAltNames }
        return settings
    }

    /// Warns about settings the gateway accepts but cannot honour exactly.
    private mutating func checkUnsupported(entry: ServiceEntry) {
        if entry.resolution == .none {
            self.warn(
                entry.meta, "ServiceEntry", field: "spec.resolution",
                "resolution NONE forwards to the original destination, which at a gateway is the gateway itself; "
                    + "the cluster has no endpoints (use DNS or STATIC)")
        }
    }

    private mutating func warn(_ meta: ObjectMeta?, _ kind: String, field: String = "", _ message: String) {
        let diagnostic = ConfigDiagnostic(
            severity: .warning, file: meta?.position.file ?? "<clusters>", line: meta?.line(of: field) ?? 0,
            kind: kind, namespace: meta?.namespace ?? "", name: meta?.name ?? "", fieldPath: field, message: message)
        if self.reported.insert(diagnostic).inserted { self.diagnostics.append(diagnostic) }
    }
}
