internal import CPortcullisOpenSSL

/// One configured `SSL_CTX`: certificates, trust roots, versions, ciphers, ALPN and verification policy.
///
/// Built off the event loops (it reads files) and immutable afterwards, so one context is shared by every
/// connection on every event loop. Per-connection state lives in the handlers.
public final class TLSContext: Sendable {
    /// The `SSL_CTX`. Never mutated after `init`; OpenSSL allows concurrent `SSL_new` on a configured context.
    nonisolated(unsafe) let handle: OpaquePointer
    /// Whether this is a server context.
    let isServer: Bool
    /// `TLS1_2_VERSION` / `TLS1_3_VERSION`, reapplied to a connection that switches to this context by SNI.
    let minimumProtocol: Int32
    let maximumProtocol: Int32
    /// The TLS 1.2 cipher list, reapplied on an SNI switch (OpenSSL copies it into the `SSL` at `SSL_new`).
    let cipherList: String
    /// `SSL_VERIFY_*` flags, reapplied on an SNI switch for the same reason.
    let verifyMode: Int32
    /// Server: ALPN protocols in preference order, as bytes for the select callback.
    let serverALPN: [[UInt8]]
    /// SANs the peer certificate must carry one of; empty means no SAN allow-list.
    let allowedSubjectAltNames: [String]
    /// Client: the default SNI.
    let serverName: String?
    /// Client: the name checked against the server certificate when no SAN allow-list is configured.
    let verifyHostname: String?
    /// Client: verification disabled.
    let insecureSkipVerify: Bool

    private init(
        handle: OpaquePointer, isServer: Bool, minimumProtocol: Int32, maximumProtocol: Int32, cipherList: String,
        verifyMode: Int32, serverALPN: [[UInt8]], allowedSubjectAltNames: [String], serverName: String?,
        verifyHostname: String?, insecureSkipVerify: Bool
    ) {
        self.handle = handle
        self.isServer = isServer
        self.minimumProtocol = minimumProtocol
        self.maximumProtocol = maximumProtocol
        self.cipherList = cipherList
        self.verifyMode = verifyMode
        self.serverALPN = serverALPN
        self.allowedSubjectAltNames = allowedSubjectAltNames
        self.serverName = serverName
        self.verifyHostname = verifyHostname
        self.insecureSkipVerify = insecureSkipVerify
        if isServer && !serverALPN.isEmpty {
            // The context outlives every SSL created from it, so an unretained pointer is safe here.
            SSL_CTX_set_alpn_select_cb(handle, tlsALPNSelectCallback, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    deinit {
        SSL_CTX_free(self.handle)
    }

    /// Builds a terminating server context (Istio `SIMPLE`, `MUTUAL`, `OPTIONAL_MUTUAL`).
    ///
    /// Blocking: reads certificate and key files. Throws ``TLSError`` of kind `.configuration`.
    public static func server(_ configuration: TLSServerConfiguration) throws -> TLSContext {
        ERR_clear_error()
        let versions = try Self.protocolRange(configuration.minimumVersion, configuration.maximumVersion)
        let alpn = try Self.validatedALPN(configuration.alpn)
        guard let handle = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.draining(.configuration, "SSL_CTX_new failed")
        }
        let verifyMode: Int32
        switch configuration.clientAuth {
        case .none: verifyMode = SSL_VERIFY_NONE
        case .optional: verifyMode = SSL_VERIFY_PEER
        case .required: verifyMode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        }
        let cipherList: String
        do {
            try Self.applyCommon(handle, versions: versions, verifyMode: verifyMode)
            cipherList = try Self.applyCipherSuites(handle, configuration.cipherSuites)
            try Self.useCertificate(handle, configuration.certificate)
            if let roots = configuration.trustRoots {
                try Self.addTrustRoots(handle, roots, advertiseToClients: true)
            } else if configuration.clientAuth != .none {
                throw TLSError(
                    kind: .configuration, message: "client authentication needs trust roots (caCertificates)")
            }
            if let crl = configuration.revocationList {
                try Self.addRevocationList(handle, crl)
            }
            var options = CPortcullisOpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE()
            options |= CPortcullisOpenSSL_SSL_OP_NO_RENEGOTIATION()
            SSL_CTX_set_options(handle, options)
            let sessionContext: [UInt8] = Array("portcullis".utf8)
            guard SSL_CTX_set_session_id_context(handle, sessionContext, UInt32(sessionContext.count)) == 1 else {
                throw TLSError.draining(.configuration, "cannot set the session id context")
            }
            SSL_CTX_set_client_hello_cb(handle, tlsClientHelloCallback, nil)
        } catch {
            SSL_CTX_free(handle)
            throw error
        }
        return TLSContext(
            handle: handle, isServer: true, minimumProtocol: versions.minimum, maximumProtocol: versions.maximum,
            cipherList: cipherList, verifyMode: verifyMode, serverALPN: alpn,
            allowedSubjectAltNames: configuration.verifySubjectAltNames, serverName: nil, verifyHostname: nil,
            insecureSkipVerify: false)
    }

    /// Builds an originating client context (Istio `ClientTLSSettings` `SIMPLE` / `MUTUAL`).
    ///
    /// Blocking: reads certificate, key and CA files. Throws ``TLSError`` of kind `.configuration`.
    public static func client(_ configuration: TLSClientConfiguration) throws -> TLSContext {
        ERR_clear_error()
        let versions = try Self.protocolRange(configuration.minimumVersion, configuration.maximumVersion)
        let alpn = try Self.validatedALPN(configuration.alpn)
        guard let handle = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.draining(.configuration, "SSL_CTX_new failed")
        }
        let verifyMode = configuration.insecureSkipVerify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER
        let cipherList: String
        do {
            try Self.applyCommon(handle, versions: versions, verifyMode: verifyMode)
            cipherList = String(cString: OSSL_default_cipher_list())
            if let certificate = configuration.certificate {
                try Self.useCertificate(handle, certificate)
            }
            try Self.addTrustRoots(handle, configuration.trustRoots, advertiseToClients: false)
            if !alpn.isEmpty {
                let wire = alpn.flatMap { [UInt8($0.count)] + $0 }
                // SSL_CTX_set_alpn_protos returns 0 on success, unlike most of OpenSSL.
                guard SSL_CTX_set_alpn_protos(handle, wire, UInt32(wire.count)) == 0 else {
                    throw TLSError.draining(.configuration, "cannot set the ALPN protocols")
                }
            }
        } catch {
            SSL_CTX_free(handle)
            throw error
        }
        return TLSContext(
            handle: handle, isServer: false, minimumProtocol: versions.minimum, maximumProtocol: versions.maximum,
            cipherList: cipherList, verifyMode: verifyMode, serverALPN: [],
            allowedSubjectAltNames: configuration.subjectAltNames, serverName: configuration.serverName,
            verifyHostname: configuration.verifyHostname, insecureSkipVerify: configuration.insecureSkipVerify)
    }
}

extension TLSContext {
    private static func protocolRange(
        _ minimum: TLSVersion, _ maximum: TLSVersion
    ) throws -> (minimum: Int32, maximum: Int32) {
        guard minimum <= maximum else {
            throw TLSError(kind: .configuration, message: "minimum TLS version is above the maximum")
        }
        func wire(_ version: TLSVersion) -> Int32 {
            switch version {
            case .tls12: TLS1_2_VERSION
            case .tls13: TLS1_3_VERSION
            }
        }
        return (wire(minimum), wire(maximum))
    }

    private static func validatedALPN(_ protocols: [String]) throws -> [[UInt8]] {
        try protocols.map { name in
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(kind: .configuration, message: "invalid ALPN protocol name '\(name)'")
            }
            return bytes
        }
    }

    private static func applyCommon(_ handle: OpaquePointer, versions: (minimum: Int32, maximum: Int32),
                                    verifyMode: Int32) throws {
        guard CPortcullisOpenSSL_SSL_CTX_set_min_proto_version(handle, versions.minimum) == 1,
            CPortcullisOpenSSL_SSL_CTX_set_max_proto_version(handle, versions.maximum) == 1
        else {
            throw TLSError.draining(.configuration, "cannot set the TLS version range")
        }
        SSL_CTX_set_options(handle, CPortcullisOpenSSL_SSL_OP_NO_COMPRESSION())
        SSL_CTX_set_verify(handle, verifyMode, tlsVerifyCallback)
    }

    /// Applies TLS 1.2 cipher names and returns the effective list. OpenSSL skips unknown names (Istio ignores
    /// invalid entries with a warning) and fails only when none is valid.
    private static func applyCipherSuites(_ handle: OpaquePointer, _ suites: [String]) throws -> String {
        guard !suites.isEmpty else {
            return String(cString: OSSL_default_cipher_list())
        }
        let list = suites.joined(separator: ":")
        guard SSL_CTX_set_cipher_list(handle, list) == 1 else {
            throw TLSError.draining(.configuration, "no valid cipher suite in '\(list)'")
        }
        return list
    }
}
