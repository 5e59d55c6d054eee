import PortcullisModel

/// The service registry from the reflectors' stores (CONTROL-PLANE §4.5): core `v1` Services, `discovery.k8s.io`
/// EndpointSlices and the labels of the Pods they point at. The schemas, the trimming of stored objects and the
/// endpoint rules are PortcullisModel's (``KubernetesService``, ``KubernetesEndpointSlice``, ``KubernetesPod``,
/// ``ServiceEndpoints``); this decodes whole stores, skipping (and reporting) objects that do not decode.
public enum KubernetesServiceRegistry {
    /// The Services of a store, sorted by `namespace/name`. `ExternalName` Services and Services without TCP
    /// ports are left out; Services that do not decode are left out and their diagnostics added to `problems`.
    public static func services(
        _ objects: [String: KubernetesJSON], sourceName: String, problems: inout [ConfigDiagnostic]
    ) -> [KubernetesService] {
        Self.decode(objects, kind: "Service", file: sourceName, problems: &problems) {
            try KubernetesService.decode($0, file: sourceName)
        }
    }

    /// The ready endpoints of every Service that has EndpointSlices, with their pods' labels
    /// (``ServiceEndpoints/init(slices:pods:)``). Slices and Pods that do not decode are left out and their
    /// diagnostics added to `problems`.
    public static func endpoints(
        slices: [String: KubernetesJSON], pods: [String: KubernetesJSON], sourceName: String,
        problems: inout [ConfigDiagnostic]
    ) -> ServiceEndpoints {
        ServiceEndpoints(
            slices: Self.decode(slices, kind: "EndpointSlice", file: sourceName, problems: &problems) {
                try KubernetesEndpointSlice.decode($0, file: sourceName)
            },
            pods: Self.decode(pods, kind: "Pod", file: sourceName, problems: &problems) {
                try KubernetesPod.decode($0, file: sourceName)
            })
    }

    /// Every object of a store decoded, in key order; nil results and failures are left out.
    private static func decode<Value>(
        _ objects: [String: KubernetesJSON], kind: String, file: String, problems: inout [ConfigDiagnostic],
        _ decode: (KubernetesJSON) throws -> Value?
    ) -> [Value] {
        var values: [Value] = []
        for key in objects.keys.sorted() {
            do {
                if let value = try decode(objects[key]!) { values.append(value) }
            } catch let problem as ConfigDiagnostic {
                problems.append(problem)
            } catch {
                let object = objects[key]!
                problems.append(
                    ConfigDiagnostic(
                        severity: .warning, file: file, line: 0, kind: kind, namespace: object.namespace,
                        name: object.name, fieldPath: "", message: "\(error)"))
            }
        }
        return values
    }
}
