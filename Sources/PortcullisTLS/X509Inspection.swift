internal import CPortcullisOpenSSL

/// Reads what the handlers report about a peer certificate: SANs and PEM text.
enum X509Inspection {
    /// The DNS, URI and IP subject alternative names of `certificate` (an `X509*`), in certificate order.
    static func subjectAltNames(_ certificate: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) else {
            return []
        }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [String] = []
        for index in 0..<CPortcullisOpenSSL_sk_GENERAL_NAME_num(names) {
            guard let name = CPortcullisOpenSSL_sk_GENERAL_NAME_value(names, index) else {
                continue
            }
            switch name.pointee.type {
            case GEN_DNS:
                result.append(Self.text(name.pointee.d.dNSName))
            case GEN_URI:
                result.append(Self.text(name.pointee.d.uniformResourceIdentifier))
            case GEN_IPADD:
                if let address = Self.ipAddress(name.pointee.d.iPAddress) {
                    result.append(address)
                }
            default:
                continue
            }
        }
        return result
    }

    /// `certificate` as PEM text.
    static func pem(_ certificate: OpaquePointer) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else {
            return nil
        }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else {
            return nil
        }
        var memory: UnsafeMutablePointer<BUF_MEM>?
        _ = CPortcullisOpenSSL_BIO_get_mem_ptr(bio, &memory)
        guard let memory, let data = memory.pointee.data else {
            return nil
        }
        let bytes = UnsafeRawBufferPointer(start: data, count: memory.pointee.length)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether one of `presented` (the certificate's SANs) satisfies one of `allowed`: exact (DNS names
    /// case-insensitively), or a `*.` DNS SAN matching exactly one label (RFC 6125 §6.4.3).
    static func matches(presented: [String], allowed: [String]) -> Bool {
        for wanted in allowed {
            let wantedLower = wanted.lowercased()
            for name in presented {
                let nameLower = name.lowercased()
                if nameLower == wantedLower {
                    return true
                }
                if nameLower.hasPrefix("*."), let dot = wantedLower.firstIndex(of: "."),
                    wantedLower[..<dot].isEmpty == false, wantedLower[dot...] == nameLower.dropFirst()
                {
                    return true
                }
            }
        }
        return false
    }

    private static func text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let data = ASN1_STRING_get0_data(string) else {
            return ""
        }
        let bytes = UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string)))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func ipAddress(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String? {
        guard let string, let data = ASN1_STRING_get0_data(string) else {
            return nil
        }
        let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            return stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        default:
            return nil
        }
    }
}
