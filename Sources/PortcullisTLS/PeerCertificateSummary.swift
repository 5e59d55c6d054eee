internal import CPortcullisOpenSSL

/// What `x-forwarded-client-cert` needs from a client certificate: its SHA-256 hash and subject
/// (Envoy's `Hash=` and `Subject=` elements).
public struct PeerCertificateSummary: Sendable, Hashable {
    /// Lower-case hex SHA-256 of the DER certificate.
    public var sha256Hex: String
    /// RFC 2253 subject, e.g. `CN=client,O=example`.
    public var subject: String

    /// Parses a PEM certificate; nil when it cannot be read.
    public init?(pem: String) {
        let bytes = Array(pem.utf8)
        let parsed: (String, String)? = bytes.withUnsafeBytes { raw -> (String, String)? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            guard let x509 = PEM_read_bio_X509(bio, nil, nil, nil) else { return nil }
            defer { X509_free(x509) }
            var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1 else { return nil }
            let hex = digest[0..<Int(length)].map { byte -> String in
                let s = String(byte, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined()
            guard let out = BIO_new(BIO_s_mem()) else { return nil }
            defer { BIO_free(out) }
            X509_NAME_print_ex(out, X509_get_subject_name(x509), 0, CPortcullisOpenSSL_XN_FLAG_RFC2253())
            var pointer: UnsafeMutablePointer<CChar>?
            let count = BIO_get_mem_data_shim(out, &pointer)
            let subject = pointer.map { ptr in
                String(decoding: UnsafeRawBufferPointer(start: ptr, count: count), as: UTF8.self)
            } ?? ""
            return (hex, subject)
        }
        guard let parsed else { return nil }
        self.sha256Hex = parsed.0
        self.subject = parsed.1
    }
}

/// `BIO_get_mem_data` is a macro; `BIO_ctrl` with `BIO_CTRL_INFO` is what it expands to.
private func BIO_get_mem_data_shim(_ bio: OpaquePointer, _ out: inout UnsafeMutablePointer<CChar>?) -> Int {
    withUnsafeMutablePointer(to: &out) { pointer in
        Int(BIO_ctrl(bio, BIO_CTRL_INFO, 0, UnsafeMutableRawPointer(pointer)))
    }
}
