import Foundation
import PortcullisModel
import PortcullisProxy
import PortcullisRouting
import PortcullisTLS
import PortcullisUpstream

/// Builds the `TLSContext`s a snapshot needs (ISTIO-SEMANTICS §1.4 and §3.5): one server context per terminating
/// Gateway server, one client context per cluster that originates TLS. Certificates come from files or from
/// `credentialName` Secrets in the gateway's namespace. Any failure is a config error naming the resource, so a
/// bad certificate is rejected like any other bad config and the previous snapshot keeps serving.
struct TLSMaterialBuilder {
    let config: ConfigSet
    let gatewayNamespace: String
    var diagnostics: [ConfigDiagnostic] = []

    init(config: ConfigSet, gatewayNamespace: String) {
        self.config = config
        self.gatewayNamespace = gatewayNamespace
    }

    mutating func build(routing: RoutingTable, clusters: ClusterCatalog) -> TLSMaterial {
        var material = TLSMaterial()
        for listener in routing.listeners where listener.kind == .tls {
            for server in listener.servers {
                guard let tls = server.tls, [.simple, .mutual, .optionalMutual].contains(tls.mode) else { continue }
                let key = TLSMaterial.ServerKey(gateway: server.gateway, index: server.index)
                if material.servers[key] != nil { continue }
                do {
                    material.servers[key] = try TLSContext.server(
                        self.serverConfiguration(tls, offerHTTP2: server.terminatesHTTPS))
                } catch {
                    self.fail(gateway: server.gateway, index: server.index, message: "\(error)")
                }
            }
        }
        for cluster in clusters.clusters.values {
            guard let tls = cluster.tls, tls.mode == .simple || tls.mode == .mutual else { continue }
            do {
                material.clusters[cluster.name] = try TLSContext.client(self.clientConfiguration(tls, alpn: "http/1.1"))
                if cluster.upstreamProtocol == .http2 || cluster.useClientProtocol {
                    material.http2Clusters[cluster.name] = try TLSContext.client(
                        self.clientConfiguration(tls, alpn: "h2"))
                }
            } catch {
                self.diagnostics.append(
                    ConfigDiagnostic(
                        file: "-", line: 0, kind: "DestinationRule", namespace: "-",
                        name: cluster.name, fieldPath: "spec.trafficPolicy.tls", message: "\(error)"))
            }
        }
        return material
    }

    private func serverConfiguration(_ tls: ServerTLSSettings, offerHTTP2: Bool) throws -> TLSServerConfiguration {
        var certificate: TLSCertificateSource
        var trust: TLSTrustRoots?
        if let name = tls.credentialName {
            let secret = try self.secret(name)
            guard let cert = secret.data["tls.crt"] ?? secret.data["cert"],
                let key = secret.data["tls.key"] ?? secret.data["key"]
            else { throw ConfigProblem("Secret \(self.gatewayNamespace)/\(name) has no tls.crt/tls.key (or cert/key)") }
            certificate = .pem(certificateChain: cert, privateKey: key)
            if let ca = secret.data["ca.crt"] ?? secret.data["cacert"] {
                trust = .pem(ca)
            } else if let caSecret = self.findSecret("\(name)-cacert"),
                let ca = caSecret.data["ca.crt"] ?? caSecret.data["cacert"]
            {
                trust = .pem(ca)
            }
        } else if let certFile = tls.serverCertificate, let keyFile = tls.privateKey {
            certificate = .files(certificateChain: certFile, privateKey: keyFile)
        } else {
            throw ConfigProblem("no certificate: set credentialName or serverCertificate and privateKey")
        }
        if let caFile = tls.caCertificates { trust = .file(caFile) }
        var configuration = TLSServerConfiguration(certificate: certificate)
        if let crlFile = tls.caCrl {
            configuration.revocationList = .file(crlFile)
        } else if let name = tls.credentialName, let secret = self.findSecret(name),
            let crl = secret.data["ca.crl"] ?? secret.data["crl"]
        {
            configuration.revocationList = .pem(crl)
        }
        switch tls.mode {
        case .mutual:
            guard let trust else { throw ConfigProblem("MUTUAL needs caCertificates (or a CA in the credential)") }
            configuration.trustRoots = trust
            configuration.clientAuth = .required
        case .optionalMutual:
            guard let trust else {
                throw ConfigProblem("OPTIONAL_MUTUAL needs caCertificates (or a CA in the credential)")
            }
            configuration.trustRoots = trust
            configuration.clientAuth = .optional
        default:
            configuration.clientAuth = .none
        }
        configuration.minimumVersion = Self.version(tls.minProtocolVersion) ?? .tls12
        configuration.maximumVersion = Self.version(tls.maxProtocolVersion) ?? .tls13
        configuration.cipherSuites = tls.cipherSuites
        // HTTPS servers choose downstream HTTP/2 by ALPN; TLS servers proxying TCP keep http/1.1 so clients do
        // not start HTTP/2 toward a backend that never negotiated it.
        configuration.alpn = offerHTTP2 ? ["h2", "http/1.1"] : ["http/1.1"]
        configuration.verifySubjectAltNames = tls.subjectAltNames
        return configuration
    }

    private func clientConfiguration(_ tls: ClientTLSSettings, alpn: String) throws -> TLSClientConfiguration {
        var configuration = TLSClientConfiguration()
        if let name = tls.credentialName {
            let secret = try self.secret(name)
            if tls.mode == .mutual {
                guard let cert = secret.data["tls.crt"] ?? secret.data["cert"],
                    let key = secret.data["tls.key"] ?? secret.data["key"]
                else { throw ConfigProblem("Secret \(self.gatewayNamespace)/\(name) has no client certificate") }
                configuration.certificate = .pem(certificateChain: cert, privateKey: key)
            }
            if let ca = secret.data["ca.crt"] ?? secret.data["cacert"] {
                configuration.trustRoots = .pem(ca)
            } else if let caSecret = self.findSecret("\(name)-cacert"),
                let ca = caSecret.data["ca.crt"] ?? caSecret.data["cacert"]
            {
                configuration.trustRoots = .pem(ca)
            }
        }
        if let ca = tls.caCertificates { configuration.trustRoots = .file(ca) }
        if tls.mode == .mutual, tls.credentialName == nil {
            guard let cert = tls.clientCertificate, let key = tls.privateKey else {
                throw ConfigProblem("MUTUAL needs clientCertificate and privateKey")
            }
            configuration.certificate = .files(certificateChain: cert, privateKey: key)
        }
        configuration.subjectAltNames = tls.subjectAltNames
        configuration.insecureSkipVerify = tls.insecureSkipVerify
        configuration.alpn = [alpn]
        return configuration
    }

    private static func version(_ version: TLSProtocolVersion) -> TLSVersion? {
        switch version {
        case .auto: nil
        case .tls10, .tls11, .tls12: .tls12
        case .tls13: .tls13
        }
    }

    private func findSecret(_ name: String) -> Secret? {
        self.config.secrets.first { $0.meta.name == name && $0.meta.namespace == self.gatewayNamespace }
    }

    private func secret(_ name: String) throws -> Secret {
        guard let secret = self.findSecret(name) else {
            throw ConfigProblem("credentialName \(name): no Secret \(self.gatewayNamespace)/\(name)")
        }
        return secret
    }

    private mutating func fail(gateway: String, index: Int, message: String) {
        let parts = gateway.split(separator: "/", maxSplits: 1).map(String.init)
        let object = self.config.gateways.first { "\($0.meta.namespace)/\($0.meta.name)" == gateway }
        let path = "spec.servers[\(index)].tls"
        self.diagnostics.append(
            ConfigDiagnostic(
                file: object?.meta.position.file ?? "-", line: object?.meta.line(of: path) ?? 0, kind: "Gateway",
                namespace: parts.first ?? "-", name: parts.last ?? gateway, fieldPath: path, message: message))
    }
}

/// A TLS configuration problem, reported as a config diagnostic.
struct ConfigProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
