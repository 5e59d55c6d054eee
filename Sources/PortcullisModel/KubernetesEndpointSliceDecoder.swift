/// `discovery.k8s.io/v1` and `v1beta1` EndpointSlices from the API server's JSON.
extension KubernetesEndpointSlice {
    /// Decodes an EndpointSlice. Absent fields are empty or nil; a field of the wrong type throws a
    /// ``ConfigDiagnostic`` naming the slice and the field (`endpoints[1].conditions.ready`).
    public static func decode(_ json: KubernetesJSON, file: String) throws -> KubernetesEndpointSlice {
        let object = KubernetesField(object: json, kind: "EndpointSlice", file: file)
        let metadata = try object["metadata"]
        let ports = try object["ports"].elements().map { port in
            Port(
                name: try port["name"].string() ?? "", number: try port["port"].int(),
                protocol: try port["protocol"].string(), appProtocol: try port["appProtocol"].string())
        }
        let endpoints = try object["endpoints"].elements().map { endpoint in
            let conditions = try endpoint["conditions"]
            let target = try endpoint["targetRef"]
            let targetRef = ObjectReference(
                kind: try target["kind"].string(), name: try target["name"].string(),
                namespace: try target["namespace"].string())
            let absent = targetRef.kind == nil && targetRef.name == nil && targetRef.namespace == nil
            return Endpoint(
                addresses: try endpoint["addresses"].elements().compactMap { try $0.string() },
                conditions: Conditions(
                    ready: try conditions["ready"].bool(), serving: try conditions["serving"].bool(),
                    terminating: try conditions["terminating"].bool()),
                targetRef: absent ? nil : targetRef)
        }
        return KubernetesEndpointSlice(
            name: try metadata["name"].string() ?? "", namespace: try metadata["namespace"].string() ?? "",
            serviceName: try metadata["labels"].stringMap()[Self.serviceNameLabel],
            addressType: try object["addressType"].string() ?? "", ports: ports, endpoints: endpoints)
    }

    /// An EndpointSlice reduced to what the registry uses: metadata without annotations, `addressType`, `ports`,
    /// and per endpoint `addresses`, `conditions.ready` (the condition ``Conditions/isReady`` reads) and
    /// `targetRef` (`kind`, `name`, `namespace`). A change of `serving` or `terminating` alone, or a new `nodeName`,
    /// then leaves the stored slice equal.
    @Sendable public static func trimmed(_ json: KubernetesJSON) -> KubernetesJSON {
        let endpoints = (json["endpoints"]?.arrayValue ?? []).map { endpoint -> KubernetesJSON in
            .object([
                "addresses": endpoint["addresses"] ?? .array([]),
                "conditions": .object(["ready": endpoint["conditions"]?["ready"] ?? .null]),
                "targetRef": .object([
                    "kind": endpoint["targetRef"]?["kind"] ?? .null, "name": endpoint["targetRef"]?["name"] ?? .null,
                    "namespace": endpoint["targetRef"]?["namespace"] ?? .null,
                ]),
            ])
        }
        return .object([
            "metadata": KubernetesMetadata.trimmed(json, annotations: false),
            "addressType": json["addressType"] ?? .null, "ports": json["ports"] ?? .array([]),
            "endpoints": .array(endpoints),
        ])
    }
}
