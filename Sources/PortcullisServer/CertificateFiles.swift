import PortcullisControlPlane
import PortcullisModel

/// The certificate, key, CA and CRL files a config refers to (Gateway `tls` and DestinationRule `tls`, including
/// port-level and subset policies). The watcher stamps them so that rotating a file reloads the snapshot and new
/// handshakes use the new certificate; connections already established keep theirs.
enum CertificateFiles {
    static func referenced(by config: ConfigSet) -> [String] {
        var files: Set<String> = []
        for gateway in config.gateways {
            for server in gateway.servers {
                guard let tls = server.tls else { continue }
                for path in [tls.serverCertificate, tls.privateKey, tls.caCertificates, tls.caCrl] {
                    if let path { files.insert(path) }
                }
            }
        }
        func add(_ tls: ClientTLSSettings?) {
            guard let tls else { return }
            for path in [tls.clientCertificate, tls.privateKey, tls.caCertificates, tls.caCrl] {
                if let path { files.insert(path) }
            }
        }
        func add(_ policy: TrafficPolicy?) {
            guard let policy else { return }
            add(policy.tls)
            for port in policy.portLevelSettings { add(port.tls) }
        }
        for rule in config.destinationRules {
            add(rule.trafficPolicy)
            for subset in rule.subsets { add(subset.trafficPolicy) }
        }
        return files.sorted()
    }

    static func stamp(_ files: [String]) -> String {
        files.map { "\($0)=\(FileConfigSource.stamp(of: $0))" }.joined(separator: ";")
    }
}
