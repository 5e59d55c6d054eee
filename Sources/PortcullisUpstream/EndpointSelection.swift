import PortcullisModel

/// Builds a cluster's endpoints from its ServiceEntry (ISTIO-SEMANTICS §4.1).
enum EndpointSelection {
    /// The endpoints of `entry` for `port`, filtered by the subset's labels.
    ///
    /// - Port precedence (§4.1): the endpoint's `ports[port.name]`, then the entry's `targetPort`, then the port
    ///   number itself.
    /// - `DNS`/`DNS_ROUND_ROBIN` with no `endpoints` resolve the destination host itself, as one unlabelled endpoint.
    /// - `NONE` (original destination) has no endpoints a gateway can use: it would loop back to the gateway (§4.1).
    /// - `DNS_ROUND_ROBIN` keeps at most one endpoint (Envoy LOGICAL_DNS).
    static func endpoints(
        of entry: ServiceEntry, port: Port, host: String, subsetLabels: [String: String]
    ) -> [Endpoint] {
        let defaultPort = port.targetPort ?? port.number
        var all: [Endpoint]
        switch entry.resolution {
        case .none:
            all = []
        case .static, .dns, .dnsRoundRobin, .dynamicDNS:
            if entry.endpoints.isEmpty {
                let resolvesHost = entry.resolution != .static && !host.hasPrefix("*")
                all = resolvesHost ? [Endpoint(address: host, port: defaultPort)] : []
            } else {
                all = entry.endpoints.map { workload in
                    let own = workload.ports[port.name].flatMap { $0 > 0 ? $0 : nil }
                    return Endpoint(
                        address: workload.address, port: own ?? defaultPort,
                        weight: workload.weight ?? 1, labels: workload.labels)
                }
            }
        }
        if entry.resolution == .dnsRoundRobin { all = Array(all.prefix(1)) }
        return all.filter { $0.matches(subsetLabels: subsetLabels) }
    }
}
