/// Decodes and validates a `Gateway` spec (ISTIO-SEMANTICS §1; Istio `validateGateway`/`validateServer`).
struct GatewayDecoder {
    let ctx: DecodeContext

    func decode(_ spec: Fields) -> ([String: String], [Server]) {
        if !self.ctx.name.isEmpty, !NameSyntax.isDNS1123Label(self.ctx.name) {
            self.ctx.error("metadata.name", "Gateway name \"\(self.ctx.name)\" must be a DNS-1123 label (no dots)")
        }
        let selector = spec.stringMap("selector")
        var servers: [Server] = []
        var portNames: [String: String] = [:]
        if let list = spec.take("servers") {
            for element in self.ctx.list(list, spec.child("servers")) {
                guard let fields = Fields(element.node, path: element.path, ctx: self.ctx) else { continue }
                guard let server = self.server(fields) else { continue }
                let name = server.port.name
                if !name.isEmpty {
                    if portNames[name] != nil {
                        self.ctx.error("\(element.path).port.name", "port names in servers must be unique: "
                            + "duplicate name \(name) (also used by \(portNames[name]!))")
                    } else {
                        portNames[name] = element.path
                    }
                }
                servers.append(server)
            }
        }
        if servers.isEmpty, !self.ctx.hasError(under: "spec.servers") {
            self.ctx.error("spec.servers", "gateway must have at least one server")
        }
        spec.finish()
        return (selector, servers)
    }

    private func server(_ f: Fields) -> Server? {
        let bind = f.string("bind").flatMap { $0.isEmpty ? nil : $0 }
        let port = f.require("port").flatMap { Fields($0, path: f.child("port"), ctx: self.ctx) }
            .flatMap { self.port($0, unixBind: bind?.hasPrefix("unix://") == true) }
        var hosts = f.strings("hosts")
        if hosts.isEmpty, !self.ctx.hasError(at: f.child("hosts")) {
            self.ctx.error(f.child("hosts"), "server config must contain at least one host", line: f.line)
        }
        for (i, host) in hosts.enumerated() {
            if let problem = self.hostProblem(host) { self.ctx.error("\(f.child("hosts"))[\(i)]", problem) }
        }
        hosts = hosts.filter { !$0.isEmpty }
        if let bind, !bind.hasPrefix("unix://"), !NameSyntax.isIPAddress(bind) {
            self.ctx.error(f.child("bind"), "bind \"\(bind)\" must be an IP address or unix:///path")
        }
        let tls = f.object("tls") { ServerTLSDecoder(ctx: self.ctx).decode($0) }
        let name = f.string("name")
        f.finish(known: ["defaultEndpoint"])
        guard let port else { return nil }
        if port.protocol.isTLSFamily, tls == nil, !self.ctx.hasError(at: f.child("tls")) {
            self.ctx.error(f.child("tls"), "server must have TLS settings for HTTPS/TLS protocols", line: f.line)
        }
        if let tls, !port.protocol.isTLSFamily, tls != Self.redirectOnly {
            self.ctx.warning(f.child("tls"), "TLS settings on a plain-text \(port.protocol.rawValue) server "
                + "are ignored (only httpsRedirect applies)")
        }
        return Server(port: port, hosts: hosts, tls: tls, name: name, bind: bind)
    }

    private static let redirectOnly: ServerTLSSettings = {
        var tls = ServerTLSSettings()
        tls.httpsRedirect = true
        return tls
    }()

    /// `servers[].port` (§1.2): number 1-65535 (0 only with a unix bind), name, protocol; no targetPort.
    private func port(_ f: Fields, unixBind: Bool) -> Port? {
        let number = f.require("number").flatMap { self.ctx.int($0, f.child("number")) }
        let name = f.require("name").flatMap { self.ctx.string($0, f.child("name")) }
        let proto = f.require("protocol").flatMap {
            self.ctx.enumValue($0, f.child("protocol"), PortProtocol.self, caseInsensitive: true, aliases: [:])
        }
        if f.take("targetPort") != nil {
            self.ctx.error(f.child("targetPort"), "targetPort is not supported on gateway ports (it has no effect)")
        }
        f.finish()
        if let number {
            if unixBind {
                if number != 0 { self.ctx.error(f.child("number"), "port number must be 0 with a unix:// bind") }
            } else if number < 1 || number > 65535 {
                self.ctx.error(f.child("number"), "port number \(number) must be in the range 1..65535")
            }
        }
        if name?.isEmpty == true { self.ctx.error(f.child("name"), "port name must be set") }
        guard let number, let name, let proto else { return nil }
        return Port(number: number, name: name, protocol: proto)
    }

    /// `[namespace/]dnsName` (§1.3).
    private func hostProblem(_ host: String) -> String? {
        let parts = host.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "host \"\(host)\" must be of the form namespace/dnsName" }
        if parts.count == 2 {
            let ns = String(parts[0])
            if ns != "*", ns != ".", !NameSyntax.isDNS1123Label(ns) {
                return "namespace \"\(ns)\" in host \"\(host)\" must be *, . or a DNS-1123 label"
            }
        }
        return NameSyntax.wildcardDomainProblem(String(parts[parts.count - 1]))
    }
}

/// `ServerTLSSettings` (§1.4; Istio `validateTLSOptions`).
struct ServerTLSDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> ServerTLSSettings? {
        var tls = ServerTLSSettings()
        tls.httpsRedirect = f.bool("httpsRedirect") ?? false
        tls.mode = f.enumValue("mode", ServerTLSMode.self) ?? .passthrough
        tls.serverCertificate = f.string("serverCertificate").flatMap { $0.isEmpty ? nil : $0 }
        tls.privateKey = f.string("privateKey").flatMap { $0.isEmpty ? nil : $0 }
        tls.caCertificates = f.string("caCertificates").flatMap { $0.isEmpty ? nil : $0 }
        tls.caCrl = f.string("caCrl").flatMap { $0.isEmpty ? nil : $0 }
        tls.credentialName = f.string("credentialName").flatMap { $0.isEmpty ? nil : $0 }
        tls.credentialNames = f.strings("credentialNames")
        tls.subjectAltNames = f.strings("subjectAltNames")
        tls.verifyCertificateSpki = f.strings("verifyCertificateSpki")
        tls.verifyCertificateHash = f.strings("verifyCertificateHash")
        tls.minProtocolVersion = f.enumValue("minProtocolVersion", TLSProtocolVersion.self) ?? .auto
        tls.maxProtocolVersion = f.enumValue("maxProtocolVersion", TLSProtocolVersion.self) ?? .auto
        tls.cipherSuites = f.strings("cipherSuites")
        tls.insecureSkipVerify = f.bool("insecureSkipVerify") ?? false
        f.finish(known: ["tlsCertificates", "caCertCredentialName"])
        self.validate(tls, f)
        return tls
    }

    private func validate(_ tls: ServerTLSSettings, _ f: Fields) {
        let hasCredential = tls.credentialName != nil || !tls.credentialNames.isEmpty
        if tls.credentialName != nil, !tls.credentialNames.isEmpty {
            self.ctx.error(f.child("credentialNames"), "only one of credentialName and credentialNames may be set")
        }
        if tls.credentialNames.count > 2 {
            self.ctx.error(f.child("credentialNames"), "at most 2 credentialNames are allowed")
        }
        switch tls.mode {
        case .istioMutual:
            if tls.serverCertificate != nil || tls.privateKey != nil || tls.caCertificates != nil || hasCredential {
                self.ctx.error(f.child("mode"), "ISTIO_MUTUAL TLS cannot have associated private key, "
                    + "server certificate, CA certificate or credential name")
            }
        case .simple, .mutual, .optionalMutual:
            if !hasCredential {
                let mode = tls.mode.rawValue
                if tls.serverCertificate == nil {
                    self.ctx.error(f.child("serverCertificate"), "\(mode) TLS requires a server certificate")
                }
                if tls.privateKey == nil {
                    self.ctx.error(f.child("privateKey"), "\(mode) TLS requires a private key")
                }
                if tls.mode != .simple, tls.caCertificates == nil {
                    self.ctx.error(f.child("caCertificates"), "\(mode) TLS requires a client CA bundle")
                }
            }
            if tls.mode == .simple, tls.caCrl != nil {
                self.ctx.error(f.child("caCrl"), "CRL is not supported with SIMPLE TLS")
            }
        case .passthrough, .autoPassthrough:
            if tls.serverCertificate != nil || tls.privateKey != nil || hasCredential {
                self.ctx.warning(f.child("mode"), "\(tls.mode.rawValue) does not terminate TLS; "
                    + "certificates are ignored")
            }
        }
        if hasCredential, tls.caCrl != nil {
            self.ctx.error(f.child("caCrl"), "caCrl cannot be used with credentialName (put the CRL in the secret)")
        }
        let order: [TLSProtocolVersion] = [.auto, .tls10, .tls11, .tls12, .tls13]
        if let lo = order.firstIndex(of: tls.minProtocolVersion), let hi = order.firstIndex(of: tls.maxProtocolVersion),
            tls.minProtocolVersion != .auto, tls.maxProtocolVersion != .auto, lo > hi {
            self.ctx.error(f.child("minProtocolVersion"), "minProtocolVersion is greater than maxProtocolVersion")
        }
    }
}
