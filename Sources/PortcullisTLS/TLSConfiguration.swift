/// A TLS protocol version. Versions below 1.2 are deliberately not representable (ISTIO-SEMANTICS.md §1.4: the
/// effective minimum is TLS 1.2).
public enum TLSVersion: Sendable, Hashable, Comparable {
    /// TLS 1.2 (RFC 5246).
    case tls12
    /// TLS 1.3 (RFC 8446).
    case tls13
}

/// Where a certificate chain and its private key come from. Both are PEM; the chain is the leaf first, then any
/// intermediates. Loading happens in ``TLSContext/server(_:)`` / ``TLSContext/client(_:)``, never on an event loop.
public struct TLSCertificateSource: Sendable, Hashable {
    enum Storage: Sendable, Hashable {
        case files(certificateChain: String, privateKey: String)
        case pem(certificateChain: [UInt8], privateKey: [UInt8])
    }

    let storage: Storage

    /// PEM files on disk (Istio `serverCertificate` / `privateKey`, `clientCertificate` / `privateKey`).
    public static func files(certificateChain: String, privateKey: String) -> Self {
        Self(storage: .files(certificateChain: certificateChain, privateKey: privateKey))
    }

    /// PEM bytes already in memory (e.g. the `tls.crt` / `tls.key` of a Secret named by `credentialName`).
    public static func pem(certificateChain: [UInt8], privateKey: [UInt8]) -> Self {
        Self(storage: .pem(certificateChain: certificateChain, privateKey: privateKey))
    }
}

/// The certificate authorities a peer certificate must chain to.
public enum TLSTrustRoots: Sendable, Hashable {
    /// The system's default verify paths (Istio `ClientTLSSettings.caCertificates` unset).
    case system
    /// PEM bytes holding one or more CA certificates.
    case pem([UInt8])
    /// A PEM file holding one or more CA certificates (Istio `caCertificates`).
    case file(String)
}

/// Whether a server asks for a client certificate (Istio `ServerTLSSettings.mode`).
public enum TLSClientAuthentication: Sendable, Hashable {
    /// `SIMPLE`: no certificate requested.
    case none
    /// `OPTIONAL_MUTUAL`: a certificate is requested and verified if sent; a missing one is accepted.
    case optional
    /// `MUTUAL`: a certificate is required and verified.
    case required
}

/// Settings for a terminating TLS server (Istio `ServerTLSSettings`, ISTIO-SEMANTICS.md §1.4).
public struct TLSServerConfiguration: Sendable, Hashable {
    /// The server's certificate chain and key.
    public var certificate: TLSCertificateSource
    /// CAs that client certificates must chain to (`caCertificates`); required unless `clientAuth` is `.none`.
    public var trustRoots: TLSTrustRoots?
    /// Whether to request and verify a client certificate.
    public var clientAuth: TLSClientAuthentication
    /// The lowest accepted version (default TLS 1.2).
    public var minimumVersion: TLSVersion
    /// The highest accepted version (default TLS 1.3).
    public var maximumVersion: TLSVersion
    /// TLS 1.2 cipher suites by OpenSSL name (`ECDHE-RSA-AES128-GCM-SHA256`); empty keeps OpenSSL's defaults.
    /// Unknown names are ignored by OpenSSL as long as one is valid. TLS 1.3 suites always keep their defaults.
    public var cipherSuites: [String]
    /// ALPN protocols in server preference order; empty disables ALPN.
    public var alpn: [String]
    /// When non-empty, a client certificate must carry one of these subject alternative names (DNS, URI or IP),
    /// compared exactly (Istio `subjectAltNames`).
    public var verifySubjectAltNames: [String]
    /// Certificate revocation lists (PEM) checked against client certificates (Istio `caCrl`).
    public var revocationList: TLSTrustRoots?

    /// Creates a server configuration; the defaults are Istio's (TLS 1.2-1.3, ALPN `h2,http/1.1`, no client auth).
    public init(
        certificate: TLSCertificateSource,
        trustRoots: TLSTrustRoots? = nil,
        clientAuth: TLSClientAuthentication = .none,
        minimumVersion: TLSVersion = .tls12,
        maximumVersion: TLSVersion = .tls13,
        cipherSuites: [String] = [],
        alpn: [String] = ["h2", "http/1.1"],
        verifySubjectAltNames: [String] = []
    ) {
        self.certificate = certificate
        self.trustRoots = trustRoots
        self.clientAuth = clientAuth
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.cipherSuites = cipherSuites
        self.alpn = alpn
        self.verifySubjectAltNames = verifySubjectAltNames
    }
}

/// Settings for an originating TLS client (Istio `ClientTLSSettings`, ISTIO-SEMANTICS.md §3.5).
public struct TLSClientConfiguration: Sendable, Hashable {
    /// CAs the server certificate must chain to; `.system` by default, as in Istio.
    public var trustRoots: TLSTrustRoots
    /// A client certificate for mutual TLS (`clientCertificate` / `privateKey`).
    public var certificate: TLSCertificateSource?
    /// The SNI to send (`sni`); a ``TLSClientHandler`` may override it per connection. IP literals are never sent.
    public var serverName: String?
    /// The DNS name (or IP) the server certificate must match; `nil` means the effective server name, unless
    /// `subjectAltNames` is non-empty, which then replaces the hostname check.
    public var verifyHostname: String?
    /// When non-empty, the server certificate must carry one of these SANs (DNS, URI or IP), compared exactly,
    /// with a `*.` DNS SAN in the certificate matching one label.
    public var subjectAltNames: [String]
    /// Skips chain, hostname and SAN verification (`insecureSkipVerify`).
    public var insecureSkipVerify: Bool
    /// ALPN protocols to offer, in preference order; empty offers none.
    public var alpn: [String]
    /// The lowest accepted version (default TLS 1.2).
    public var minimumVersion: TLSVersion
    /// The highest accepted version (default TLS 1.3).
    public var maximumVersion: TLSVersion

    /// Creates a client configuration; verification is on and uses the system roots by default.
    public init(
        trustRoots: TLSTrustRoots = .system,
        certificate: TLSCertificateSource? = nil,
        serverName: String? = nil,
        verifyHostname: String? = nil,
        subjectAltNames: [String] = [],
        insecureSkipVerify: Bool = false,
        alpn: [String] = [],
        minimumVersion: TLSVersion = .tls12,
        maximumVersion: TLSVersion = .tls13
    ) {
        self.trustRoots = trustRoots
        self.certificate = certificate
        self.serverName = serverName
        self.verifyHostname = verifyHostname
        self.subjectAltNames = subjectAltNames
        self.insecureSkipVerify = insecureSkipVerify
        self.alpn = alpn
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
    }
}
