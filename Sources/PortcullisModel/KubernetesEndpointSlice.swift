/// A `discovery.k8s.io` EndpointSlice: `v1`, or `v1beta1` before Kubernetes 1.21, which has the same shape for
/// everything read here (it adds `topology`, `v1` adds `nodeName`, `zone` and `hints`; none is read).
///
/// Decoded by ``decode(_:file:)``; ``ServiceEndpoints/init(slices:pods:)`` turns slices into a Service's
/// endpoints.
public struct KubernetesEndpointSlice: Sendable, Hashable {
    public var name: String
    public var namespace: String
    /// The `kubernetes.io/service-name` label: the Service these are endpoints of; nil when no Service owns it.
    public var serviceName: String?
    /// `IPv4`, `IPv6` or `FQDN`; "" when absent.
    public var addressType: String
    public var ports: [Port]
    public var endpoints: [Endpoint]

    public init(
        name: String, namespace: String, serviceName: String?, addressType: String, ports: [Port],
        endpoints: [Endpoint]
    ) {
        self.name = name
        self.namespace = namespace
        self.serviceName = serviceName
        self.addressType = addressType
        self.ports = ports
        self.endpoints = endpoints
    }

    /// The label EndpointSlices carry with their Service's name.
    public static let serviceNameLabel = "kubernetes.io/service-name"

    /// `namespace/name`.
    public var key: String { "\(self.namespace)/\(self.name)" }

    /// The port numbers by port name ("" for an unnamed port), which are the Service's port names: TCP ports that
    /// have a number.
    public var tcpPorts: [String: Int] {
        var ports: [String: Int] = [:]
        for port in self.ports where port.isTCP {
            if let number = port.number { ports[port.name] = number }
        }
        return ports
    }

    /// One entry of `ports`.
    public struct Port: Sendable, Hashable {
        /// The Service port's name; "" when unnamed (a Service with one port).
        public var name: String
        /// nil when absent (the API: all ports).
        public var number: Int?
        /// `TCP` (also when absent), `UDP` or `SCTP`.
        public var `protocol`: String?
        public var appProtocol: String?

        public init(name: String = "", number: Int?, protocol: String? = nil, appProtocol: String? = nil) {
            self.name = name
            self.number = number
            self.protocol = `protocol`
            self.appProtocol = appProtocol
        }

        /// Whether the port carries TCP: `UDP` and `SCTP` ports are not proxied.
        public var isTCP: Bool { self.protocol != "UDP" && self.protocol != "SCTP" }
    }

    /// One entry of `endpoints`: a pod (or other backend) and its state.
    public struct Endpoint: Sendable, Hashable {
        public var addresses: [String]
        public var conditions: Conditions
        /// The object behind the endpoint, usually its Pod; nil when absent.
        public var targetRef: ObjectReference?

        public init(addresses: [String], conditions: Conditions = Conditions(), targetRef: ObjectReference? = nil) {
            self.addresses = addresses
            self.conditions = conditions
            self.targetRef = targetRef
        }

        /// The address to use: the first (the API says consumers must use only the first); nil when there is none.
        public var address: String? {
            guard let first = self.addresses.first, !first.isEmpty else { return nil }
            return first
        }
    }

    /// `endpoints[].conditions`; each is nil when absent.
    public struct Conditions: Sendable, Hashable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }

        /// Whether the endpoint takes traffic: `ready` true or absent (the API: absent means unknown, read it as
        /// ready). `serving` and `terminating` do not matter: a terminating endpoint is never ready, and one that
        /// is still serving while terminating gets no new requests from the gateway.
        public var isReady: Bool { self.ready != false }
    }

    /// `endpoints[].targetRef`.
    public struct ObjectReference: Sendable, Hashable {
        public var kind: String?
        public var name: String?
        /// nil means the slice's namespace.
        public var namespace: String?

        public init(kind: String?, name: String?, namespace: String? = nil) {
            self.kind = kind
            self.name = name
            self.namespace = namespace
        }
    }
}
