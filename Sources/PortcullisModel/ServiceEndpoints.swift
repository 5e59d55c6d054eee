/// The ready endpoints of every Service, keyed by `namespace/name` (``KubernetesService/key``).
///
/// Each endpoint is a `WorkloadEntry`: its address, its ports by Service port name (from the EndpointSlice's port
/// list, so a named `targetPort` resolves per pod) and its pod's labels (for DestinationRule subsets).
public struct ServiceEndpoints: Sendable, Hashable {
    public var byService: [String: [WorkloadEntry]]

    public init(byService: [String: [WorkloadEntry]] = [:]) {
        self.byService = byService
    }

    /// The endpoints of the Service `namespace/name`, empty when none is ready.
    public subscript(service key: String) -> [WorkloadEntry] { self.byService[key] ?? [] }

    /// The ready endpoints of every Service that has EndpointSlices, with their pods' labels.
    ///
    /// Slices without a `kubernetes.io/service-name` label and `FQDN` slices are skipped. An endpoint is used when
    /// it is ready (``KubernetesEndpointSlice/Conditions/isReady``), with its first address only; its ports are the
    /// slice's TCP ports by name, which are the Service port names, so a named `targetPort` resolves per pod. The
    /// labels are those of the Pod its `targetRef` names (in the slice's namespace unless it says otherwise). An
    /// address with the same ports in several slices of a Service (during a rollout) is kept once, from the slice
    /// first by `namespace/name`. Each Service's endpoints are sorted by address, then lowest port.
    public init(slices: [KubernetesEndpointSlice], pods: [KubernetesPod]) {
        let podsByKey = Dictionary(pods.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [String: [WorkloadEntry]] = [:]
        var seen: [String: Set<String>] = [:]
        for slice in slices.sorted(by: { $0.key < $1.key }) {
            guard let service = slice.serviceName, slice.addressType != "FQDN" else { continue }
            let ports = slice.tcpPorts
            let portsText = ports.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let serviceKey = slice.namespace + "/" + service
            for endpoint in slice.endpoints where endpoint.conditions.isReady {
                guard let address = endpoint.address,
                    seen[serviceKey, default: []].insert(address + " " + portsText).inserted
                else { continue }
                var labels: [String: String] = [:]
                if let target = endpoint.targetRef, target.kind == "Pod", let name = target.name {
                    labels = podsByKey[(target.namespace ?? slice.namespace) + "/" + name]?.labels ?? [:]
                }
                result[serviceKey, default: []].append(WorkloadEntry(address: address, ports: ports, labels: labels))
            }
        }
        for key in result.keys {
            result[key]!.sort { ($0.address, $0.ports.values.min() ?? 0) < ($1.address, $1.ports.values.min() ?? 0) }
        }
        self.init(byService: result)
    }
}
