import Foundation

/// Core `v1` Services from the API server's JSON (CONTROL-PLANE §4.5).
extension KubernetesService {
    /// Istio's annotation limiting where a Service is visible.
    static let exportToAnnotation = "networking.istio.io/exportTo"

    /// Decodes a Service as the registry sees it; nil for an `ExternalName` Service or one without TCP ports (a
    /// gateway cannot route to them by endpoints).
    ///
    /// `spec.ports[]`: `port` is the number (a port without one is skipped), `name` ("" when unnamed), `UDP` and
    /// `SCTP` ports are skipped, the protocol is ``portProtocol(name:appProtocol:)`` of `name` and `appProtocol`,
    /// and `targetPort` is kept when it is a number (a named one resolves per endpoint). `metadata.annotations`
    /// `networking.istio.io/exportTo` is split at commas. `file` names the source in `meta.position` and in
    /// diagnostics; a field of the wrong type throws a ``ConfigDiagnostic`` naming the Service and the field.
    public static func decode(_ json: KubernetesJSON, file: String) throws -> KubernetesService? {
        let object = KubernetesField(object: json, kind: "Service", file: file)
        let spec = try object["spec"]
        if try spec["type"].string() == "ExternalName" { return nil }
        var ports: [Port] = []
        for port in try spec["ports"].elements() {
            guard let number = try port["port"].int() else { continue }
            let name = try port["name"].string() ?? ""
            let transport = try port["protocol"].string()
            if transport == "UDP" || transport == "SCTP" { continue }
            ports.append(
                Port(
                    number: number, name: name,
                    protocol: Self.portProtocol(name: name, appProtocol: try port["appProtocol"].string()),
                    targetPort: try port["targetPort"].intOrName()))
        }
        if ports.isEmpty { return nil }
        let metadata = try object["metadata"]
        let annotations = try metadata["annotations"].stringMap()
        let exportTo = (annotations[Self.exportToAnnotation] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let meta = ObjectMeta(
            name: try metadata["name"].string() ?? "", namespace: try metadata["namespace"].string() ?? "",
            creationTimestamp: try metadata["creationTimestamp"].string(), labels: try metadata["labels"].stringMap(),
            annotations: annotations, position: SourcePosition(file: file, line: 0))
        return KubernetesService(meta: meta, ports: ports, exportTo: exportTo)
    }

    /// A Service reduced to what ``decode(_:file:)`` reads (metadata with annotations, `spec.type`,
    /// `spec.ports`), for the control plane's store.
    @Sendable public static func trimmed(_ json: KubernetesJSON) -> KubernetesJSON {
        let spec = json["spec"]
        return .object([
            "metadata": KubernetesMetadata.trimmed(json, annotations: true),
            "spec": .object(["type": spec?["type"] ?? .null, "ports": spec?["ports"] ?? .array([])]),
        ])
    }
}
