/// `networking.istio.io` `ServiceEntry` (ISTIO-SEMANTICS §4).
public struct ServiceEntry: Sendable, Hashable {
    public var meta: ObjectMeta
    /// Literal (never short-name expanded).
    public var hosts: [String]
    public var addresses: [String]
    public var ports: [Port]
    public var location: Location
    public var resolution: Resolution
    public var endpoints: [WorkloadEntry]
    public var exportTo: [String]
    public var subjectAltNames: [String]
    public init(
        meta: ObjectMeta, hosts: [String], addresses: [String] = [], ports: [Port] = [],
        location: Location = .meshExternal, resolution: Resolution = .none, endpoints: [WorkloadEntry] = [],
        exportTo: [String] = [], subjectAltNames: [String] = []
    ) {
        self.meta = meta
        self.hosts = hosts
        self.addresses = addresses
        self.ports = ports
        self.location = location
        self.resolution = resolution
        self.endpoints = endpoints
        self.exportTo = exportTo
        self.subjectAltNames = subjectAltNames
    }

    public enum Location: String, Sendable, Hashable {
        case meshExternal = "MESH_EXTERNAL"
        case meshInternal = "MESH_INTERNAL"
    }

    public enum Resolution: String, Sendable, Hashable {
        case none = "NONE"
        case `static` = "STATIC"
        case dns = "DNS"
        case dnsRoundRobin = "DNS_ROUND_ROBIN"
        case dynamicDNS = "DYNAMIC_DNS"
    }
}

/// `WorkloadEntry` as embedded in `ServiceEntry.endpoints`.
public struct WorkloadEntry: Sendable, Hashable {
    /// IP, DNS name (for DNS resolution) or `unix:///abs/path`.
    public var address: String
    /// Port name → port number.
    public var ports: [String: Int]
    public var labels: [String: String]
    /// nil = 1.
    public var weight: Int?
    public var locality: String?
    public var network: String?
    public init(
        address: String, ports: [String: Int] = [:], labels: [String: String] = [:], weight: Int? = nil,
        locality: String? = nil, network: String? = nil
    ) {
        self.address = address
        self.ports = ports
        self.labels = labels
        self.weight = weight
        self.locality = locality
        self.network = network
    }
}

/// Core `v1` `Secret`, kept for TLS (`credentialName`). `data` is base64-decoded; `stringData` merged in.
public struct Secret: Sendable, Hashable {
    public var meta: ObjectMeta
    public var type: String?
    public var data: [String: [UInt8]]
    public init(meta: ObjectMeta, type: String? = nil, data: [String: [UInt8]] = [:]) {
        self.meta = meta
        self.type = type
        self.data = data
    }
}
