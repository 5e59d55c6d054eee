internal import CPortcullisOpenSSL

/// PEM loading for ``TLSContext``: certificate chains, private keys and trust roots, from files or memory.
extension TLSContext {
    /// Installs the leaf certificate, any intermediates and the private key, and checks that they match.
    static func useCertificate(_ handle: OpaquePointer, _ source: TLSCertificateSource) throws {
        let (chainOrigin, keyOrigin): (PEMOrigin, PEMOrigin)
        switch source.storage {
        case .files(let chain, let key):
            (chainOrigin, keyOrigin) = (.file(chain), .file(key))
        case .pem(let chain, let key):
            (chainOrigin, keyOrigin) = (.bytes(chain), .bytes(key))
        }
        try chainOrigin.withBIO { bio in
            guard let leaf = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
                throw TLSError.draining(.configuration, "no certificate in \(chainOrigin)")
            }
            defer { X509_free(leaf) }
            guard SSL_CTX_use_certificate(handle, leaf) == 1 else {
                throw TLSError.draining(.configuration, "cannot use the certificate in \(chainOrigin)")
            }
            while let intermediate = PEM_read_bio_X509(bio, nil, nil, nil) {
                // add0 takes ownership on success only.
                guard CPortcullisOpenSSL_SSL_CTX_add0_chain_cert(handle, intermediate) == 1 else {
                    X509_free(intermediate)
                    throw TLSError.draining(.configuration, "cannot add an intermediate from \(chainOrigin)")
                }
            }
            // The loop ends on "no start line", which is the expected end of input.
            ERR_clear_error()
        }
        try keyOrigin.withBIO { bio in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw TLSError.draining(.configuration, "no private key in \(keyOrigin)")
            }
            defer { EVP_PKEY_free(key) }
            guard SSL_CTX_use_PrivateKey(handle, key) == 1 else {
                throw TLSError.draining(.configuration, "cannot use the private key in \(keyOrigin)")
            }
        }
        guard SSL_CTX_check_private_key(handle) == 1 else {
            throw TLSError.draining(.configuration, "the private key does not match the certificate")
        }
    }

    /// Adds CA certificates to the context's verify store. A server also names them in its CertificateRequest.
    static func addTrustRoots(_ handle: OpaquePointer, _ roots: TLSTrustRoots, advertiseToClients: Bool) throws {
        let origin: PEMOrigin
        switch roots {
        case .system:
            guard SSL_CTX_set_default_verify_paths(handle) == 1 else {
                throw TLSError.draining(.configuration, "cannot load the system trust roots")
            }
            return
        case .pem(let bytes):
            origin = .bytes(bytes)
        case .file(let path):
            origin = .file(path)
        }
        let store = SSL_CTX_get_cert_store(handle)
        var count = 0
        try origin.withBIO { bio in
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                defer { X509_free(certificate) }
                guard X509_STORE_add_cert(store, certificate) == 1 else {
                    throw TLSError.draining(.configuration, "cannot add a CA certificate from \(origin)")
                }
                if advertiseToClients {
                    _ = SSL_CTX_add_client_CA(handle, certificate)
                }
                count += 1
            }
            ERR_clear_error()
        }
        guard count > 0 else {
            throw TLSError(kind: .configuration, message: "no CA certificate in \(origin)")
        }
    }
}

extension TLSContext {
    /// Loads CRLs into the verify store and turns on revocation checks for the whole chain (Istio `caCrl`).
    static func addRevocationList(_ handle: OpaquePointer, _ source: TLSTrustRoots) throws {
        let origin: PEMOrigin
        switch source {
        case .system: return
        case .pem(let bytes): origin = .bytes(bytes)
        case .file(let path): origin = .file(path)
        }
        let store = SSL_CTX_get_cert_store(handle)
        var count = 0
        try origin.withBIO { bio in
            while let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) {
                defer { X509_CRL_free(crl) }
                guard X509_STORE_add_crl(store, crl) == 1 else {
                    throw TLSError.draining(.configuration, "cannot add a CRL from \(origin)")
                }
                count += 1
            }
            ERR_clear_error()
        }
        guard count > 0 else { throw TLSError(kind: .configuration, message: "no CRL in \(origin)") }
        X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
    }
}

/// Where PEM text comes from; gives OpenSSL a read-only `BIO` over it.
private enum PEMOrigin: CustomStringConvertible {
    case file(String)
    case bytes([UInt8])

    var description: String {
        switch self {
        case .file(let path): "file '\(path)'"
        case .bytes(let bytes): "\(bytes.count) PEM bytes"
        }
    }

    /// Runs `body` with a BIO over the file or bytes. `BIO_new_mem_buf` does not copy, so the BIO never escapes.
    func withBIO<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        switch self {
        case .file(let path):
            guard let bio = BIO_new_file(path, "r") else {
                throw TLSError.draining(.configuration, "cannot open \(self)")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes { raw in
                guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                    throw TLSError.draining(.configuration, "cannot wrap \(self)")
                }
                defer { BIO_free(bio) }
                return try body(bio)
            }
        }
    }
}
