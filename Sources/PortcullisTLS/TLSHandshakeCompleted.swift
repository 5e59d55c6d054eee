/// User inbound event fired by ``TLSServerHandler`` and ``TLSClientHandler`` once the handshake has finished,
/// before any application data is passed on. The proxy uses it to pick the codec (ALPN) and for XFCC / policy.
public struct TLSHandshakeCompleted: Sendable, Hashable {
    /// The ALPN protocol both sides agreed on (`h2`, `http/1.1`), or `nil` when none was negotiated.
    public var negotiatedALPN: String?
    /// The SNI the client sent (server side), or the one this client sent (client side).
    public var serverName: String?
    /// DNS, URI (e.g. SPIFFE) and IP subject alternative names of the peer certificate; empty when none.
    public var peerCertificateSubjectAltNames: [String]
    /// The peer certificate as PEM, or `nil` when the peer sent none.
    public var peerCertificatePEM: String?
    /// The negotiated version as OpenSSL names it (`TLSv1.2`, `TLSv1.3`).
    public var protocolVersion: String
    /// The negotiated cipher suite as OpenSSL names it (`TLS_AES_256_GCM_SHA384`).
    public var cipher: String

    /// Creates the event; the handlers fill it from the finished handshake.
    public init(
        negotiatedALPN: String?, serverName: String?, peerCertificateSubjectAltNames: [String],
        peerCertificatePEM: String?, protocolVersion: String, cipher: String
    ) {
        self.negotiatedALPN = negotiatedALPN
        self.serverName = serverName
        self.peerCertificateSubjectAltNames = peerCertificateSubjectAltNames
        self.peerCertificatePEM = peerCertificatePEM
        self.protocolVersion = protocolVersion
        self.cipher = cipher
    }
}
