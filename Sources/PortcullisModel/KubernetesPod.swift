/// A core `v1` Pod as the service registry needs it: its labels, which EndpointSlice endpoints lack and
/// DestinationRule subsets select on (the endpoint's `targetRef` names the pod).
public struct KubernetesPod: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]

    public init(name: String, namespace: String, labels: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
    }

    /// `namespace/name`.
    public var key: String { "\(self.namespace)/\(self.name)" }

    /// Decodes a Pod's `metadata.name`, `namespace` and `labels`; a field of the wrong type throws a
    /// ``ConfigDiagnostic`` naming the Pod and the field.
    public static func decode(_ json: KubernetesJSON, file: String) throws -> KubernetesPod {
        let metadata = try KubernetesField(object: json, kind: "Pod", file: file)["metadata"]
        return KubernetesPod(
            name: try metadata["name"].string() ?? "", namespace: try metadata["namespace"].string() ?? "",
            labels: try metadata["labels"].stringMap())
    }

    /// A Pod reduced to its name, namespace and labels: status churn (probes, restarts) then changes nothing.
    @Sendable public static func trimmed(_ json: KubernetesJSON) -> KubernetesJSON {
        .object(["metadata": KubernetesMetadata.trimmed(json, annotations: false)])
    }
}
