internal import CPortcullisOpenSSL
import NIOCore

/// One connection's OpenSSL state: an `SSL*` over two memory BIOs, driven by a handler on one event loop.
///
/// Ciphertext from the network is written into `networkInput`; OpenSSL writes ciphertext for the network into
/// `networkOutput`, which the handler drains after every call. OpenSSL callbacks find this object through the
/// `SSL` ex-data slot, so it outlives every call into the `SSL` it owns.
final class TLSConnection {
    enum HandshakeProgress {
        case complete
        case inProgress
        case failed(TLSError)
    }

    enum ReadResult {
        case data(ByteBuffer)
        case wouldBlock
        case closeNotify
        case failed(TLSError)
    }

    let ssl: OpaquePointer
    private let networkInput: OpaquePointer
    private let networkOutput: OpaquePointer
    /// The context in force: the initial one, or the one the SNI selected.
    private(set) var context: TLSContext
    private let selector: TLSServerNameSelector?
    /// Set by the ClientHello callback when the SNI matched no server.
    private var rejectedServerName: String??
    /// Set by the verify callback when the peer certificate failed the SAN allow-list.
    fileprivate(set) var subjectAltNameFailure: String?

    private init(context: TLSContext, selector: TLSServerNameSelector?) throws {
        guard let ssl = SSL_new(context.handle) else {
            throw TLSError.draining(.configuration, "SSL_new failed")
        }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.draining(.configuration, "BIO_new failed")
        }
        // An empty input BIO means "retry later" (SSL_ERROR_WANT_READ), not end of file.
        _ = CPortcullisOpenSSL_BIO_set_mem_eof_return(input, -1)
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs now
        self.ssl = ssl
        self.networkInput = input
        self.networkOutput = output
        self.context = context
        self.selector = selector
        SSL_set_ex_data(ssl, connectionIndex, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        SSL_free(self.ssl)
    }

    /// A server-side connection that picks its context by SNI.
    static func server(selector: TLSServerNameSelector) throws -> TLSConnection {
        guard let initial = selector.initialContext, initial.isServer else {
            throw TLSError(kind: .configuration, message: "the server name selector holds no server context")
        }
        let connection = try TLSConnection(context: initial, selector: selector)
        SSL_set_accept_state(connection.ssl)
        return connection
    }

    /// A client-side connection sending `serverName` (or the context's) as SNI and verifying the server.
    static func client(context: TLSContext, serverName: String?) throws -> TLSConnection {
        guard !context.isServer else {
            throw TLSError(kind: .configuration, message: "a client handler needs a client context")
        }
        let connection = try TLSConnection(context: context, selector: nil)
        let ssl = connection.ssl
        SSL_set_connect_state(ssl)
        let name = serverName ?? context.serverName
        // RFC 6066 §3: literal IP addresses are not permitted in SNI.
        if let name, !name.isEmpty, !isIPLiteral(name) {
            guard CPortcullisOpenSSL_SSL_set_tlsext_host_name(ssl, name) == 1 else {
                throw TLSError.draining(.configuration, "cannot set SNI '\(name)'")
            }
        }
        if !context.insecureSkipVerify && context.allowedSubjectAltNames.isEmpty,
            let host = context.verifyHostname ?? name, !host.isEmpty
        {
            let param = SSL_get0_param(ssl)
            let ok =
                isIPLiteral(host)
                ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : X509_VERIFY_PARAM_set1_host(param, host, 0)
            guard ok == 1 else {
                throw TLSError.draining(.configuration, "cannot verify against '\(host)'")
            }
            X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        }
        return connection
    }

    /// Ciphertext received from the network.
    func feed(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress, bytes.count > 0 else {
                return
            }
            // A memory BIO grows as needed; a write fails only when allocation fails.
            _ = BIO_write(self.networkInput, base, Int32(bytes.count))
        }
    }

    /// Ciphertext OpenSSL produced for the network, if any.
    func takeOutbound(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = Int(BIO_ctrl_pending(self.networkOutput))
        guard pending > 0 else {
            return nil
        }
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { target in
            Int(max(0, BIO_read(self.networkOutput, target.baseAddress, Int32(pending))))
        }
        return buffer
    }

    /// Advances the handshake with whatever input is buffered.
    func handshake() -> HandshakeProgress {
        ERR_clear_error()
        let result = SSL_do_handshake(self.ssl)
        if result == 1 {
            return .complete
        }
        let code = SSL_get_error(self.ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE {
            return .inProgress
        }
        return .failed(self.handshakeError(code: code))
    }

    /// Decrypts one chunk of application data, without allocating when no input is buffered.
    func read(allocator: ByteBufferAllocator) -> ReadResult {
        guard SSL_has_pending(self.ssl) == 1 || BIO_ctrl_pending(self.networkInput) > 0 else {
            return .wouldBlock
        }
        ERR_clear_error()
        let chunk = 16_384
        var buffer = allocator.buffer(capacity: chunk)
        var result: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { target in
            result = SSL_read(self.ssl, target.baseAddress, Int32(target.count))
            return Int(max(0, result))
        }
        if result > 0 {
            return .data(buffer)
        }
        switch SSL_get_error(self.ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .closeNotify
        case let code:
            return .failed(TLSError.draining(.readFailed, "SSL_read failed (SSL_get_error \(code))"))
        }
    }

    /// Encrypts `buffer`; a memory BIO never pushes back, so all of it is written.
    func write(_ buffer: ByteBuffer) -> TLSError? {
        ERR_clear_error()
        return buffer.withUnsafeReadableBytes { bytes -> TLSError? in
            guard let base = bytes.baseAddress else {
                return nil
            }
            var offset = 0
            while offset < bytes.count {
                let length = Int32(min(bytes.count - offset, Int(Int32.max)))
                let written = SSL_write(self.ssl, base + offset, length)
                guard written > 0 else {
                    let code = SSL_get_error(self.ssl, written)
                    return TLSError.draining(.writeFailed, "SSL_write failed (SSL_get_error \(code))")
                }
                offset += Int(written)
            }
            return nil
        }
    }

    /// Queues a `close_notify` alert (RFC 8446 §6.1).
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(self.ssl)
        ERR_clear_error()
    }

    /// What the handshake settled, for ``TLSHandshakeCompleted``.
    func summary() -> TLSHandshakeCompleted {
        var alpnData: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(self.ssl, &alpnData, &alpnLength)
        let alpn = alpnData.map {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(alpnLength)), as: UTF8.self)
        }
        let serverName = SSL_get_servername(self.ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
        var sans: [String] = []
        var pem: String?
        if let peer = SSL_get1_peer_certificate(self.ssl) {
            sans = X509Inspection.subjectAltNames(peer)
            pem = X509Inspection.pem(peer)
            X509_free(peer)
        }
        let cipher = SSL_get_current_cipher(self.ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) }
        return TLSHandshakeCompleted(
            negotiatedALPN: alpn, serverName: serverName, peerCertificateSubjectAltNames: sans,
            peerCertificatePEM: pem, protocolVersion: String(cString: SSL_get_version(self.ssl)),
            cipher: cipher ?? "")
    }
}

extension TLSConnection {
    /// Recovers the connection that owns `ssl` inside an OpenSSL callback.
    static func owning(_ ssl: OpaquePointer?) -> TLSConnection? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, connectionIndex) else {
            return nil
        }
        return Unmanaged<TLSConnection>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Chooses the server context from the SNI; runs inside the ClientHello callback, before version and cipher
    /// negotiation, so the chosen context's versions, ciphers and verify mode all apply.
    fileprivate func selectContext(alert: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let selector = self.selector else {
            return SSL_CLIENT_HELLO_SUCCESS
        }
        var data: UnsafePointer<UInt8>?
        var length = 0
        var serverName: String?
        if SSL_client_hello_get0_ext(self.ssl, UInt32(TLSEXT_TYPE_server_name), &data, &length) == 1, let data {
            let body = UnsafeRawBufferPointer(start: data, count: length)
            guard let name = ClientHelloParser.serverName(extension: body) else {
                alert?.pointee = SSL_AD_DECODE_ERROR
                return SSL_CLIENT_HELLO_ERROR
            }
            serverName = name
        }
        guard let chosen = selector.context(forServerName: serverName), chosen.isServer else {
            self.rejectedServerName = .some(serverName)
            alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
            return SSL_CLIENT_HELLO_ERROR
        }
        if chosen !== self.context {
            guard SSL_set_SSL_CTX(self.ssl, chosen.handle) != nil,
                CPortcullisOpenSSL_SSL_set_min_proto_version(self.ssl, chosen.minimumProtocol) == 1,
                CPortcullisOpenSSL_SSL_set_max_proto_version(self.ssl, chosen.maximumProtocol) == 1,
                SSL_set_cipher_list(self.ssl, chosen.cipherList) == 1
            else {
                alert?.pointee = SSL_AD_INTERNAL_ERROR
                return SSL_CLIENT_HELLO_ERROR
            }
            SSL_set_verify(self.ssl, chosen.verifyMode, tlsVerifyCallback)
            self.context = chosen
        }
        return SSL_CLIENT_HELLO_SUCCESS
    }

    private func handshakeError(code: Int32) -> TLSError {
        if let rejected = self.rejectedServerName {
            let name = rejected.map { "'\($0)'" } ?? "(no SNI)"
            return TLSError.draining(.unknownServerName, "no server certificate for server name \(name)")
        }
        var error = TLSError.draining(.handshakeFailed, "handshake failed (SSL_get_error \(code))")
        let verify = SSL_get_verify_result(self.ssl)
        if verify != X509_V_OK {
            error.verifyResultCode = Int(verify)
            error.verifyResult = String(cString: X509_verify_cert_error_string(verify))
        }
        if let failure = self.subjectAltNameFailure {
            error.verifyResult = failure
        }
        return error
    }
}

/// The `SSL` ex-data slot holding the unretained ``TLSConnection``.
private let connectionIndex: Int32 = CPortcullisOpenSSL_SSL_get_ex_new_index()

private func isIPLiteral(_ name: String) -> Bool {
    if name.contains(":") {
        return true
    }
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) && UInt8($0) != nil }
}

/// ClientHello callback on every server context: runs SNI selection for the connection that owns `ssl`.
/// Returns `SSL_CLIENT_HELLO_ERROR` with an alert when the SNI is malformed or matches no server.
func tlsClientHelloCallback(
    _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let connection = TLSConnection.owning(ssl) else {
        return SSL_CLIENT_HELLO_SUCCESS
    }
    return connection.selectContext(alert: alert)
}

/// Verify callback on every context: keeps OpenSSL's chain verdict, and at depth 0 (the leaf) also enforces the
/// context's SAN allow-list (Istio `subjectAltNames`), failing with `X509_V_ERR_APPLICATION_VERIFICATION`.
func tlsVerifyCallback(_ preverifyOK: Int32, _ store: OpaquePointer?) -> Int32 {
    guard preverifyOK == 1, let store, X509_STORE_CTX_get_error_depth(store) == 0 else {
        return preverifyOK
    }
    guard let raw = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let connection = TLSConnection.owning(OpaquePointer(raw))
    else {
        return preverifyOK
    }
    let allowed = connection.context.allowedSubjectAltNames
    guard !allowed.isEmpty, let leaf = X509_STORE_CTX_get_current_cert(store) else {
        return preverifyOK
    }
    let presented = X509Inspection.subjectAltNames(leaf)
    if X509Inspection.matches(presented: presented, allowed: allowed) {
        return 1
    }
    connection.subjectAltNameFailure =
        "subject alt names \(presented) match none of \(allowed)"
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION)
    return 0
}

/// ALPN select callback on server contexts with ALPN (RFC 7301 §3.2): the first protocol in the server's
/// preference order that the client offered. `out` points into the client's list, which outlives the callback.
/// No overlap continues without ALPN, as Envoy does.
func tlsALPNSelectCallback(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered, let argument else {
        return SSL_TLSEXT_ERR_NOACK
    }
    let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    for preferred in context.serverALPN {
        var index = 0
        while index < list.count {
            let length = Int(list[index])
            let start = index + 1
            guard start + length <= list.count else {
                break
            }
            if length == preferred.count && list[start..<start + length].elementsEqual(preferred) {
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
    }
    return SSL_TLSEXT_ERR_NOACK
}
