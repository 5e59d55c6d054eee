import PortcullisModel
import PortcullisRouting
import PortcullisUpstream

/// Small builders so each test states only the fields it is about.
enum Fixtures {
    static func meta(_ name: String, _ namespace: String = "default", created: String? = nil) -> ObjectMeta {
        ObjectMeta(name: name, namespace: namespace, creationTimestamp: created)
    }

    static func entry(
        _ name: String, namespace: String = "default", hosts: [String], ports: [Port] = [http80],
        resolution: ServiceEntry.Resolution = .static, endpoints: [WorkloadEntry] = [], exportTo: [String] = [],
        subjectAltNames: [String] = []
    ) -> ServiceEntry {
        ServiceEntry(
            meta: meta(name, namespace), hosts: hosts, ports: ports, resolution: resolution, endpoints: endpoints,
            exportTo: exportTo, subjectAltNames: subjectAltNames)
    }

    static func rule(
        _ name: String, namespace: String = "default", host: String, policy: TrafficPolicy? = nil,
        subsets: [Subset] = [], exportTo: [String] = [], created: String? = nil,
        workloadSelector: [String: String]? = nil
    ) -> DestinationRule {
        DestinationRule(
            meta: meta(name, namespace, created: created), host: host, exportTo: exportTo, trafficPolicy: policy,
            subsets: subsets, workloadSelector: workloadSelector)
    }

    static let http80 = Port(number: 80, name: "http", protocol: .http)

    static func policy(_ edit: (inout TrafficPolicy) -> Void) -> TrafficPolicy {
        var policy = TrafficPolicy()
        edit(&policy)
        return policy
    }

    static func pool(maxConnections: Int? = nil, http2MaxRequests: Int? = nil) -> ConnectionPoolSettings {
        var pool = ConnectionPoolSettings()
        if let maxConnections {
            var tcp = ConnectionPoolSettings.TCP()
            tcp.maxConnections = maxConnections
            pool.tcp = tcp
        }
        if let http2MaxRequests {
            var http = ConnectionPoolSettings.HTTP()
            http.http2MaxRequests = http2MaxRequests
            pool.http = http
        }
        return pool
    }

    static func tls(_ mode: ClientTLSMode, sans: [String] = []) -> ClientTLSSettings {
        var tls = ClientTLSSettings()
        tls.mode = mode
        tls.subjectAltNames = sans
        return tls
    }

    static func build(
        entries: [ServiceEntry], rules: [DestinationRule] = [], keys: [ClusterKey],
        gatewayNamespace: String = "istio-system", workloadLabels: [String: String]? = nil
    ) -> (catalog: ClusterCatalog, diagnostics: [ConfigDiagnostic]) {
        var config = ConfigSet()
        config.serviceEntries = entries
        config.destinationRules = rules
        return ClusterCatalog.build(
            config: config, keys: Set(keys), gatewayNamespace: gatewayNamespace, workloadLabels: workloadLabels)
    }

    /// Builds one cluster and returns it (nil when the key gets none).
    static func cluster(
        entries: [ServiceEntry], rules: [DestinationRule] = [], key: ClusterKey,
        gatewayNamespace: String = "istio-system", workloadLabels: [String: String]? = nil
    ) -> Cluster? {
        build(
            entries: entries, rules: rules, keys: [key], gatewayNamespace: gatewayNamespace,
            workloadLabels: workloadLabels
        ).catalog[key]
    }
}
