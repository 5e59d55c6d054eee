/// The `metadata` of the Kubernetes objects the service registry reads directly (Services, EndpointSlices, Pods).
enum KubernetesMetadata {
    /// `metadata` reduced to `name`, `namespace` and `labels`, plus `annotations` and `creationTimestamp` when
    /// `annotations` is set: what the registry reads, so changes to anything else (resource version, managed
    /// fields, owner references) leave the stored object equal.
    static func trimmed(_ object: KubernetesJSON, annotations: Bool) -> KubernetesJSON {
        let metadata = object["metadata"]
        var kept: [String: KubernetesJSON] = [
            "name": metadata?["name"] ?? .null, "namespace": metadata?["namespace"] ?? .null,
            "labels": metadata?["labels"] ?? .object([:]),
        ]
        if annotations {
            kept["annotations"] = metadata?["annotations"] ?? .object([:])
            kept["creationTimestamp"] = metadata?["creationTimestamp"] ?? .null
        }
        return .object(kept)
    }
}
