/// `networking.istio.io` `Gateway` (ISTIO-SEMANTICS §1).
public struct Gateway: Sendable, Hashable {
    public var meta: ObjectMeta
    /// Plain label map; empty = applies to every gateway workload.
    public var selector: [String: String]
    public var servers: [Server]
    public init(meta: ObjectMeta, selector: [String: String] = [:], servers: [Server] = []) {
        self.meta = meta
        self.selector = selector
        self.servers = servers
    }
}

/// One `servers[]` entry.
public struct Server: Sendable, Hashable {
    public var port: Port
    /// As written (`ns/host`, `./host`, `*/host`, `host`); the router normalizes them.
    public var hosts: [String]
    public var tls: ServerTLSSettings?
    public var name: String?
    /// IP address or `unix:///path`; nil = all addresses (0.0.0.0).
    public var bind: String?
    public init(port: Port, hosts: [String], tls: ServerTLSSettings? = nil, name: String? = nil, bind: String? = nil) {
        self.port = port
        self.hosts = hosts
        self.tls = tls
        self.name = name
        self.bind = bind
    }
}

public enum ServerTLSMode: String, Sendable, Hashable {
    /// The enum default (value 0).
    case passthrough = "PASSTHROUGH"
    case simple = "SIMPLE"
    case mutual = "MUTUAL"
    case autoPassthrough = "AUTO_PASSTHROUGH"
    case istioMutual = "ISTIO_MUTUAL"
    case optionalMutual = "OPTIONAL_MUTUAL"
}

/// `ServerTLSSettings` (§1.4).
public struct ServerTLSSettings: Sendable, Hashable {
    public var httpsRedirect: Bool = false
    public var mode: ServerTLSMode = .passthrough
    public var serverCertificate: String?
    public var privateKey: String?
    public var caCertificates: String?
    public var caCrl: String?
    public var credentialName: String?
    public var credentialNames: [String] = []
    public var subjectAltNames: [String] = []
    public var verifyCertificateSpki: [String] = []
    public var verifyCertificateHash: [String] = []
    public var minProtocolVersion: TLSProtocolVersion = .auto
    public var maxProtocolVersion: TLSProtocolVersion = .auto
    public var cipherSuites: [String] = []
    public var insecureSkipVerify: Bool = false
    public init() {}
}
