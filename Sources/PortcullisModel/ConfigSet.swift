/// Everything one config source produced: the validated resources, in source order.
public struct ConfigSet: Sendable, Hashable {
    public var gateways: [Gateway] = []
    public var virtualServices: [VirtualService] = []
    public var destinationRules: [DestinationRule] = []
    public var serviceEntries: [ServiceEntry] = []
    public var secrets: [Secret] = []
    /// Core `v1` Services from the Kubernetes service registry (their endpoints travel separately, see
    /// ``ServiceEndpoints``).
    public var services: [KubernetesService] = []
    /// Portcullis `ForwardProxy` listeners (issue 5, forward-proxy mode).
    public var forwardProxies: [ForwardProxy] = []
    /// Mesh settings from `ConfigMap/istio` (`data.mesh`), when present.
    public var mesh: MeshSettings?
    /// `security.istio.io` AuthorizationPolicies, carried but not enforced (see ``AuthorizationPolicy``).
    public var authorizationPolicies: [AuthorizationPolicy] = []
    public init() {}

    public var isEmpty: Bool {
        self.gateways.isEmpty && self.virtualServices.isEmpty && self.destinationRules.isEmpty
            && self.serviceEntries.isEmpty && self.secrets.isEmpty && self.forwardProxies.isEmpty
            && self.services.isEmpty && self.authorizationPolicies.isEmpty
    }
}

/// One problem found while loading or validating, printed as
/// `FILE:LINE: KIND NAMESPACE/NAME: FIELD.PATH: message` (the `portcullis validate` format).
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible, Error {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }
    public var severity: Severity
    public var file: String
    public var line: Int
    /// e.g. `VirtualService`; empty when the document has no recognizable kind.
    public var kind: String
    public var namespace: String
    public var name: String
    /// e.g. `spec.http[0].route[1].weight`; empty for document-level problems.
    public var fieldPath: String
    public var message: String

    public init(
        severity: Severity = .error, file: String, line: Int, kind: String, namespace: String, name: String,
        fieldPath: String, message: String
    ) {
        self.severity = severity
        self.file = file
        self.line = line
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.fieldPath = fieldPath
        self.message = message
    }

    public var description: String {
        let object = self.kind.isEmpty ? "-" : "\(self.kind) \(self.namespace)/\(self.name)"
        let field = self.fieldPath.isEmpty ? "-" : self.fieldPath
        let prefix = self.severity == .warning ? "warning: " : ""
        return "\(self.file):\(self.line): \(object): \(field): \(prefix)\(self.message)"
    }
}
