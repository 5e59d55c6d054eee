/// A core `v1` Service as the gateway's service registry sees it (CONTROL-PLANE §4.5): the name that VirtualService
/// destinations use (`<name>.<namespace>.svc.<domain>`) and its ports. Its endpoints come separately
/// (``ServiceEndpoints``), so endpoint churn never changes the config itself. Decoded from the API server's JSON by
/// ``decode(_:file:)``.
public struct KubernetesService: Sendable, Hashable {
    /// Name, namespace, labels and annotations of the Service.
    public var meta: ObjectMeta
    /// The Service ports: `number` is `port`, `targetPort` is set when the Service gives a number (a named target
    /// port is resolved per endpoint from the EndpointSlice's port list), `protocol` from `appProtocol` or the
    /// port name's prefix (Istio's protocol selection), HTTP otherwise.
    public var ports: [Port]
    /// `networking.istio.io/exportTo` annotation, comma-separated; empty means everywhere (Istio's default).
    public var exportTo: [String]

    public init(meta: ObjectMeta, ports: [Port], exportTo: [String] = []) {
        self.meta = meta
        self.ports = ports
        self.exportTo = exportTo
    }

    /// `namespace/name`, the key of this Service's endpoints in ``ServiceEndpoints``.
    public var key: String { "\(self.meta.namespace)/\(self.meta.name)" }

    /// The fully qualified host name, `<name>.<namespace>.svc.<domain>`.
    public func hostname(domain: String = "cluster.local") -> String {
        "\(self.meta.name).\(self.meta.namespace).svc.\(domain)".lowercased()
    }

    /// The Service as the ServiceEntry Istio synthesizes for it: its host, its ports, `STATIC` resolution with the
    /// given endpoints, `MESH_INTERNAL`, and the Service's `exportTo`.
    public func serviceEntry(domain: String = "cluster.local", endpoints: [WorkloadEntry]) -> ServiceEntry {
        ServiceEntry(
            meta: self.meta, hosts: [self.hostname(domain: domain)], ports: self.ports, location: .meshInternal,
            resolution: .static, endpoints: endpoints, exportTo: self.exportTo)
    }

    /// Istio's protocol selection for a Service port: `appProtocol`, else the name's prefix before the first `-`
    /// (`http-web`, `grpc`), else HTTP (a gateway routes HTTP to it).
    public static func portProtocol(name: String, appProtocol: String?) -> PortProtocol {
        if let appProtocol, let known = PortProtocol(rawValue: appProtocol.uppercased()) { return known }
        let lower = name.lowercased()
        if lower.hasPrefix("grpc-web") { return .grpcWeb }
        let prefix = lower.split(separator: "-", maxSplits: 1).first.map(String.init) ?? lower
        return PortProtocol(rawValue: prefix.uppercased()) ?? .http
    }
}
