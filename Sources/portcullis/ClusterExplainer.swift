import PortcullisProxy
import PortcullisUpstream

/// Adds what the destination clusters of an explained request look like (endpoints, or why there are none), so
/// `explain` answers "would this request get a 503?" too.
enum ClusterExplainer {
    static func describe(snapshot: GatewaySnapshot, text: String) -> String {
        var lines: [String] = []
        for key in snapshot.routing.clusterKeys.sorted(by: { $0.description < $1.description })
        where text.contains(key.description) {
            if let cluster = snapshot.clusters[key] {
                let endpoints = cluster.endpoints.map(\.description).joined(separator: ", ")
                lines.append(
                    cluster.endpoints.isEmpty
                        ? "cluster \(key): no endpoints match -> 503 no healthy upstream (UH)"
                        : "cluster \(key): \(cluster.loadBalancer) over [\(endpoints)] (from ServiceEntry \(cluster.serviceEntry))")
            } else {
                lines.append("cluster \(key): does not exist (no ServiceEntry host/port or undefined subset) -> 503 (NC)")
            }
        }
        return lines.isEmpty ? "" : "\n" + lines.joined(separator: "\n") + "\n"
    }
}
