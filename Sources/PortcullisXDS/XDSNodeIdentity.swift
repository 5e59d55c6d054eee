import Foundation

/// Who the gateway says it is to istiod: the node id and the metadata istiod parses as its `NodeMetadata`
/// (CONTROL-PLANE.md §1.3), with `GENERATOR=api` so every type URL goes to the Istio-API generator.
public struct XDSNodeIdentity: Sendable, Hashable {
    /// `router~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local`, the form istio-ingressgateway uses.
    public var id: String
    /// The cluster name Envoy would report (the gateway's workload name).
    public var cluster: String
    /// Flat string metadata (LABELS is a nested map, sent separately).
    public var metadata: [String: String]
    /// The gateway's workload labels (`LABELS`).
    public var labels: [String: String]

    public init(id: String, cluster: String, metadata: [String: String], labels: [String: String]) {
        self.id = id
        self.cluster = cluster
        self.metadata = metadata
        self.labels = labels
    }

    /// The identity from the pod's environment the way Istio's injection template sets it (`POD_NAME`,
    /// `POD_NAMESPACE`, `INSTANCE_IP`, `SERVICE_ACCOUNT`), falling back to the host name and loopback.
    public static func fromEnvironment(
        namespace: String, clusterID: String, labels: [String: String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> XDSNodeIdentity {
        let pod = environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
        let namespace = environment["POD_NAMESPACE"] ?? namespace
        let ip = environment["INSTANCE_IP"] ?? "127.0.0.1"
        var metadata = [
            "GENERATOR": "api",
            "NAMESPACE": namespace,
            "CLUSTER_ID": clusterID,
            "NAME": pod,
            "INSTANCE_IPS": ip,
            "ISTIO_VERSION": "1.26.0",
            "WORKLOAD_NAME": labels["app"] ?? "portcullis",
        ]
        if let account = environment["SERVICE_ACCOUNT"] { metadata["SERVICE_ACCOUNT"] = account }
        return XDSNodeIdentity(
            id: "router~\(ip)~\(pod).\(namespace)~\(namespace).svc.cluster.local",
            cluster: "\(labels["app"] ?? "portcullis").\(namespace)", metadata: metadata, labels: labels)
    }
}
