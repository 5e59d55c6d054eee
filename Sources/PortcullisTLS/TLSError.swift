internal import CPortcullisOpenSSL

/// A TLS failure: what failed, the drained OpenSSL error queue, and the certificate verification result.
///
/// Library-style extensible error (STYLE.md §11): `kind` classifies, the rest explains. The OpenSSL error queue is
/// drained when the error is created, so a later failure on the same thread never reports a stale reason.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// What kind of operation failed.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// Building a ``TLSContext`` failed (bad certificate, key, trust roots, cipher list, ALPN list...).
        public static let configuration = Kind("configuration")
        /// The handshake failed (protocol, verification, alert from the peer).
        public static let handshakeFailed = Kind("handshake failed")
        /// The server has no certificate for the SNI the client sent (RFC 6066 §3 `unrecognized_name`).
        public static let unknownServerName = Kind("unknown server name")
        /// Decrypting application data failed.
        public static let readFailed = Kind("read failed")
        /// Encrypting application data failed.
        public static let writeFailed = Kind("write failed")
        /// The connection ended without a `close_notify` alert (possible truncation, RFC 8446 §6.1).
        public static let uncleanShutdown = Kind("unclean shutdown")

        public var description: String {
            self.name
        }
    }

    /// The kind of failure.
    public var kind: Kind
    /// What failed, in words.
    public var message: String
    /// The OpenSSL error queue at the time of the failure, oldest first (`error:0A000086:SSL routines::...`).
    public var openSSLErrors: [String]
    /// The X.509 verification result code (`X509_V_ERR_*`) when verification failed, else `nil`.
    public var verifyResultCode: Int?
    /// The X.509 verification result text (e.g. `hostname mismatch`) when verification failed, else `nil`.
    public var verifyResult: String?

    /// Creates an error without touching the OpenSSL error queue.
    public init(
        kind: Kind, message: String, openSSLErrors: [String] = [], verifyResultCode: Int? = nil,
        verifyResult: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.openSSLErrors = openSSLErrors
        self.verifyResultCode = verifyResultCode
        self.verifyResult = verifyResult
    }

    public var description: String {
        var text = "TLS \(self.kind): \(self.message)"
        if let verifyResult = self.verifyResult {
            text += "; certificate verify result: \(verifyResult)"
            if let code = self.verifyResultCode {
                text += " (\(code))"
            }
        }
        if !self.openSSLErrors.isEmpty {
            text += "; OpenSSL: " + self.openSSLErrors.joined(separator: " | ")
        }
        return text
    }
}

extension TLSError {
    /// Creates an error and drains this thread's OpenSSL error queue into it.
    static func draining(_ kind: Kind, _ message: String) -> TLSError {
        TLSError(kind: kind, message: message, openSSLErrors: Self.drainErrorQueue())
    }

    /// Pops every entry of this thread's OpenSSL error queue, oldest first, as `ERR_error_string_n` text.
    static func drainErrorQueue() -> [String] {
        var errors: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 {
                break
            }
            var text = [CChar](repeating: 0, count: 256)
            text.withUnsafeMutableBufferPointer { buffer in
                ERR_error_string_n(code, buffer.baseAddress, buffer.count)
            }
            let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            errors.append(String(decoding: bytes, as: UTF8.self))
        }
        return errors
    }
}
