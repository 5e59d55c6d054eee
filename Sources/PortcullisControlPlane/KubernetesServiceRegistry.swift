import Foundation
import PortcullisModel

/// The service registry from Kubernetes objects (CONTROL-PLANE §4.5): core `v1` Services, `discovery.k8s.io`
/// EndpointSlices (`v1` and `v1beta1` have the same shape for what is read here) and the labels of the Pods they
/// point at (EndpointSlice endpoints carry no labels; DestinationRule subsets select on pod labels).
public enum KubernetesServiceRegistry {
    /// The label EndpointSlices carry with their Service's name.
    static let serviceNameLabel = "kubernetes.io/service-name"
    /// Istio's annotation limiting where a Service is visible.
    static let exportToAnnotation = "networking.istio.io/exportTo"

    /// The Services of a store, sorted by `namespace/name`. `ExternalName` Services and Services without ports are
    /// skipped (a gateway cannot route to them by endpoints).
    public static func services(_ objects: [String: KubernetesJSON], sourceName: String) -> [KubernetesService] {
        objects.keys.sorted().compactMap { key in
            let object = objects[key]!
            let spec = object["spec"]
            if spec?["type"]?.stringValue == "ExternalName" { return nil }
            let ports: [PortcullisModel.Port] = (spec?["ports"]?.arrayValue ?? []).compactMap { port in
                guard let number = port["port"]?.intValue else { return nil }
                let name = port["name"]?.stringValue ?? ""
                if port["protocol"]?.stringValue == "UDP" || port["protocol"]?.stringValue == "SCTP" { return nil }
                return PortcullisModel.Port(
                    number: number, name: name,
                    protocol: KubernetesService.portProtocol(name: name, appProtocol: port["appProtocol"]?.stringValue),
                    targetPort: port["targetPort"]?.intValue)
            }
            if ports.isEmpty { return nil }
            let metadata = object["metadata"]
            let annotations = Self.stringMap(metadata?["annotations"])
            let exportTo = (annotations[Self.exportToAnnotation] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let meta = ObjectMeta(
                name: object.name, namespace: object.namespace,
                creationTimestamp: metadata?["creationTimestamp"]?.stringValue,
                labels: Self.stringMap(metadata?["labels"]), annotations: annotations,
                position: SourcePosition(file: sourceName, line: 0))
            return KubernetesService(meta: meta, ports: ports, exportTo: exportTo)
        }
    }

    /// The ready endpoints of every Service that has EndpointSlices, with their pods' labels.
    ///
    /// An endpoint is used when `conditions.ready` is true or absent (the API says: absent means unknown, read it
    /// as ready), and only its first address (the API says consumers must use only the first). Its ports are the
    /// slice's ports by name, which are the Service port names, so a named `targetPort` resolves per pod. `FQDN`
    /// slices are skipped. An address with the same ports in several slices of a Service (during a rollout) is kept
    /// once.
    public static func endpoints(
        slices: [String: KubernetesJSON], pods: [String: KubernetesJSON]
    ) -> ServiceEndpoints {
        var result: [String: [WorkloadEntry]] = [:]
        var seen: [String: Set<String>] = [:]
        for key in slices.keys.sorted() {
            let slice = slices[key]!
            guard let service = Self.stringMap(slice["metadata"]?["labels"])[Self.serviceNameLabel] else { continue }
            if slice["addressType"]?.stringValue == "FQDN" { continue }
            var ports: [String: Int] = [:]
            for port in slice["ports"]?.arrayValue ?? [] {
                if port["protocol"]?.stringValue == "UDP" || port["protocol"]?.stringValue == "SCTP" { continue }
                guard let number = port["port"]?.intValue else { continue }
                ports[port["name"]?.stringValue ?? ""] = number
            }
            let serviceKey = slice.namespace + "/" + service
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                if endpoint["conditions"]?["ready"] == .bool(false) { continue }
                guard let address = endpoint["addresses"]?.arrayValue?.first?.stringValue, !address.isEmpty,
                    seen[serviceKey, default: []].insert(address + " " + ports.sorted { $0.key < $1.key }
                        .map { "\($0.key)=\($0.value)" }.joined(separator: ",")).inserted
                else { continue }
                var labels: [String: String] = [:]
                if let target = endpoint["targetRef"], target["kind"]?.stringValue == "Pod",
                    let name = target["name"]?.stringValue
                {
                    let namespace = target["namespace"]?.stringValue ?? slice.namespace
                    labels = Self.stringMap(pods[namespace + "/" + name]?["metadata"]?["labels"])
                }
                result[serviceKey, default: []].append(WorkloadEntry(address: address, ports: ports, labels: labels))
            }
        }
        for key in result.keys {
            result[key]!.sort { ($0.address, $0.ports.values.min() ?? 0) < ($1.address, $1.ports.values.min() ?? 0) }
        }
        return ServiceEndpoints(byService: result)
    }

    // MARK: - Trimming (what the reflectors keep)

    /// A Service reduced to what ``services(_:sourceName:)`` reads.
    @Sendable public static func trimService(_ object: KubernetesJSON) -> KubernetesJSON {
        let spec = object["spec"]
        return .object([
            "metadata": Self.trimMetadata(object, annotations: true),
            "spec": .object(["type": spec?["type"] ?? .null, "ports": spec?["ports"] ?? .array([])]),
        ])
    }

    /// An EndpointSlice reduced to what ``endpoints(slices:pods:)`` reads.
    @Sendable public static func trimEndpointSlice(_ object: KubernetesJSON) -> KubernetesJSON {
        let endpoints = (object["endpoints"]?.arrayValue ?? []).map { endpoint -> KubernetesJSON in
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
            "metadata": Self.trimMetadata(object, annotations: false),
            "addressType": object["addressType"] ?? .null, "ports": object["ports"] ?? .array([]),
            "endpoints": .array(endpoints),
        ])
    }

    /// A Pod reduced to its name, namespace and labels: status churn (probes, restarts) then changes nothing.
    @Sendable public static func trimPod(_ object: KubernetesJSON) -> KubernetesJSON {
        .object(["metadata": Self.trimMetadata(object, annotations: false)])
    }

    private static func trimMetadata(_ object: KubernetesJSON, annotations: Bool) -> KubernetesJSON {
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

    private static func stringMap(_ json: KubernetesJSON?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in json?.objectValue ?? [:] {
            if let text = value.stringValue { result[key] = text }
        }
        return result
    }
}
