import PortcullisModel
import PortcullisRouting

/// One upstream cluster, Istio's `outbound|port|subset|host` (ISTIO-SEMANTICS §0 step 6, §3, §4).
///
/// Immutable and `Sendable`: built off the event loops by `ClusterCatalog.build` and shared by every loop. Live
/// state (load-balancer cursors, in-flight counts, ejections, connections) lives per event loop beside it.
public final class Cluster: Sendable {
    public let key: ClusterKey
    /// `key.description`, the name used in logs, metrics and `x-envoy`-style diagnostics.
    public let name: String
    /// `namespace/name` of the ServiceEntry (or Kubernetes Service) that declared the host.
    public let serviceEntry: String
    /// `namespace/name` of the DestinationRules that shaped the policy, in creation order (empty when none).
    public let destinationRules: [String]
    public let resolution: ServiceEntry.Resolution
    /// The ServiceEntry's `location`: traffic to a `MESH_EXTERNAL` cluster is egress (counted by
    /// `portcullis_egress_attempts_total`).
    public let location: ServiceEntry.Location
    /// The service port's protocol (`HTTP`, `HTTP2`, `TLS`, ...).
    public let portProtocol: PortProtocol
    /// Subset-filtered endpoints; for DNS resolutions the addresses are names to resolve at connect time.
    public let endpoints: [Endpoint]
    public let loadBalancer: LoadBalancerKind
    public let limits: ConnectionLimits
    /// nil = no outlier detection.
    public let outlier: OutlierPolicy?
    /// Upstream TLS origination; nil means plaintext (DestinationRule `tls` absent or `DISABLE`). When the rule
    /// lists no `subjectAltNames`, the ServiceEntry's are filled in (§3.5).
    public let tls: ClientTLSSettings?
    public let upstreamProtocol: UpstreamProtocol
    /// `http.useClientProtocol`: speak the downstream's HTTP version upstream instead of `upstreamProtocol`.
    public let useClientProtocol: Bool
    /// Consistent hashing (`loadBalancer.consistentHash`); then `loadBalancer` is the no-key fallback (random).
    public let hashPolicy: HashPolicy?
    /// The ring for `hashPolicy`, built once and shared by every loop's load balancer.
    public let hashRing: HashRing?

    public init(
        key: ClusterKey, serviceEntry: String, destinationRules: [String] = [],
        resolution: ServiceEntry.Resolution, location: ServiceEntry.Location = .meshExternal,
        portProtocol: PortProtocol = .http, endpoints: [Endpoint],
        loadBalancer: LoadBalancerKind = .leastRequest, limits: ConnectionLimits = ConnectionLimits(),
        outlier: OutlierPolicy? = nil, tls: ClientTLSSettings? = nil, upstreamProtocol: UpstreamProtocol = .http1,
        useClientProtocol: Bool = false, hashPolicy: HashPolicy? = nil
    ) {
        self.key = key
        self.name = key.description
        self.serviceEntry = serviceEntry
        self.destinationRules = destinationRules
        self.resolution = resolution
        self.location = location
        self.portProtocol = portProtocol
        self.endpoints = endpoints
        self.loadBalancer = loadBalancer
        self.limits = limits
        self.outlier = outlier
        self.tls = tls
        self.upstreamProtocol = upstreamProtocol
        self.useClientProtocol = useClientProtocol
        self.hashPolicy = hashPolicy
        self.hashRing = hashPolicy.map { HashRing(endpoints: endpoints, minimumRingSize: $0.minimumRingSize) }
    }

    /// Endpoint weights in endpoint order, ready for `LoadBalancer(kind:weights:)`.
    public var weights: [Int] { self.endpoints.map(\.weight) }

    /// Whether endpoint addresses must go through `DNSCache` before connecting.
    public var needsDNS: Bool {
        switch self.resolution {
        case .dns, .dnsRoundRobin, .dynamicDNS: true
        case .none, .static: false
        }
    }

    /// A fresh per-event-loop load balancer for this cluster.
    public func makeLoadBalancer() -> LoadBalancer {
        LoadBalancer(kind: self.loadBalancer, weights: self.weights, random: LoadBalancerRandom(), ring: self.hashRing)
    }
}
