internal import CPortcullisOpenSSL

/// Facts about the linked OpenSSL. The TLS handlers arrive with the TLS issue; the library is part of the build
/// from day one so the system package is exercised by every build.
public enum TLSLibrary {
    /// The runtime OpenSSL version string, e.g. `OpenSSL 3.0.19 ...`.
    public static var version: String {
        String(cString: OpenSSL_version(OPENSSL_VERSION))
    }
}
