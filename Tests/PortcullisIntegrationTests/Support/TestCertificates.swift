import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Certificates for the TLS integration tests, generated once per test run with the `openssl` CLI into a fresh
/// temporary directory (removed when the test process exits). No key material is committed to the repository.
///
/// - `ca` (ECDSA P-256, "Portcullis Test CA") signs every gateway server certificate and the good client; tests
///   trust it with `curl --cacert` and the gateway trusts it for client certificates (`caCertificates`).
/// - `rogueCA` (RSA 2048) is trusted by nobody; it signs `rogueClient`.
/// - `backendCA` (ECDSA) is the passthrough backend's own CA; it signs `backend`, which only `openssl s_server`
///   presents, so a client that sees it went through the gateway without termination.
/// - Each server leaf has its own common name (`a-server`, ...) so tests can tell which certificate was served.
struct TestCertificates: Sendable {
    struct Identity: Sendable {
        let commonName: String
        let certificatePath: String
        let keyPath: String
        /// The PEM texts, for `credentialName` Secrets.
        let certificatePEM: String
        let keyPEM: String
        /// Lower-case hex SHA-256 of the DER certificate (what XFCC's `Hash=` carries).
        let sha256Hex: String
    }

    let directory: String
    let ca: Identity
    let rogueCA: Identity
    let backendCA: Identity
    /// `DNS:a.example.com`
    let serverA: Identity
    /// `DNS:a.example.com` too, a different key and common name: the certificate a rotation installs.
    let serverARotated: Identity
    /// `DNS:b.example.com`
    let serverB: Identity
    /// `DNS:*.wild.example.com`
    let wildcard: Identity
    /// `DNS:mtls.example.com, DNS:optional.example.com`
    let mutual: Identity
    /// `DNS:secret.example.com`, served only from a `credentialName` Secret.
    let secretServer: Identity
    /// `DNS:pt.example.com, DNS:implicit.example.com`, signed by `backendCA`.
    let backend: Identity
    /// `URI:spiffe://cluster.local/ns/test/sa/curl-client, DNS:client.test`, signed by `ca`.
    let client: Identity
    /// Same kind of SAN, signed by `rogueCA`.
    let rogueClient: Identity

    static let clientURI = "spiffe://cluster.local/ns/test/sa/curl-client"
    static let clientDNS = "client.test"

    /// The certificates shared by every TLS integration test; generated on first use.
    static func shared() throws -> TestCertificates {
        try sharedResult.get()
    }

    private static let sharedResult = Result { try TestCertificates.generate() }

    /// The directory to delete when the test process exits (keys never outlive the run).
    nonisolated(unsafe) private static var directoryToRemove: String?

    private static func generate() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-tls-it-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Runs once, under the lazy initialisation of `sharedResult`.
        Self.directoryToRemove = directory
        atexit {
            if let directory = TestCertificates.directoryToRemove {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        let config = "\(directory)/openssl.cnf"
        try """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        CN = unused
        [ca_ext]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        """.write(toFile: config, atomically: true, encoding: .utf8)

        func key(_ algorithm: String) -> [String] {
            algorithm == "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", "rsa:2048"]
        }
        func identity(_ name: String, commonName: String) throws -> Identity {
            let base = "\(directory)/\(name)"
            return Identity(
                commonName: commonName, certificatePath: "\(base).pem", keyPath: "\(base).key",
                certificatePEM: try String(contentsOfFile: "\(base).pem", encoding: .utf8),
                keyPEM: try String(contentsOfFile: "\(base).key", encoding: .utf8),
                sha256Hex: try fingerprint("\(base).pem"))
        }
        func makeCA(_ name: String, _ algorithm: String, commonName: String) throws -> Identity {
            try run(
                ["req", "-x509", "-new"] + key(algorithm) + [
                    "-nodes", "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem",
                    "-days", "2", "-subj", "/CN=\(commonName)", "-config", config, "-extensions", "ca_ext",
                ])
            return try identity(name, commonName: commonName)
        }
        var serial = 1
        func makeLeaf(_ name: String, _ algorithm: String, ca: Identity, san: String) throws -> Identity {
            serial += 1
            let base = "\(directory)/\(name)"
            try run(
                ["req", "-new"] + key(algorithm) + [
                    "-nodes", "-keyout", "\(base).key", "-out", "\(base).csr", "-subj", "/O=Portcullis Tests/CN=\(name)",
                    "-config", config,
                ])
            try """
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = serverAuth,clientAuth
            subjectAltName = \(san)
            """.write(toFile: "\(base).ext", atomically: true, encoding: .utf8)
            try run([
                "x509", "-req", "-in", "\(base).csr", "-CA", ca.certificatePath, "-CAkey", ca.keyPath,
                "-set_serial", "\(serial)", "-days", "2", "-out", "\(base).pem", "-extfile", "\(base).ext",
            ])
            return try identity(name, commonName: name)
        }

        let ca = try makeCA("ca", "ec", commonName: "Portcullis Test CA")
        let rogueCA = try makeCA("rogue-ca", "rsa", commonName: "Rogue Test CA")
        let backendCA = try makeCA("backend-ca", "ec", commonName: "Backend Test CA")
        return TestCertificates(
            directory: directory, ca: ca, rogueCA: rogueCA, backendCA: backendCA,
            serverA: try makeLeaf("a-server", "ec", ca: ca, san: "DNS:a.example.com"),
            serverARotated: try makeLeaf("a-server-rotated", "ec", ca: ca, san: "DNS:a.example.com"),
            serverB: try makeLeaf("b-server", "rsa", ca: ca, san: "DNS:b.example.com"),
            wildcard: try makeLeaf("wildcard-server", "ec", ca: ca, san: "DNS:*.wild.example.com"),
            mutual: try makeLeaf("mutual-server", "ec", ca: ca, san: "DNS:mtls.example.com, DNS:optional.example.com"),
            secretServer: try makeLeaf("secret-server", "ec", ca: ca, san: "DNS:secret.example.com"),
            backend: try makeLeaf("backend-server", "ec", ca: backendCA, san: "DNS:pt.example.com, DNS:implicit.example.com"),
            client: try makeLeaf("curl-client", "ec", ca: ca, san: "URI:\(clientURI), DNS:\(clientDNS)"),
            rogueClient: try makeLeaf("rogue-client", "rsa", ca: rogueCA, san: "URI:\(clientURI), DNS:\(clientDNS)"))
    }

    /// `openssl x509 -fingerprint -sha256` as lower-case hex without colons.
    private static func fingerprint(_ path: String) throws -> String {
        let (code, out, err) = try Command.run("/usr/bin/openssl", ["x509", "-in", path, "-noout", "-fingerprint", "-sha256"])
        guard code == 0, let equals = out.firstIndex(of: "=") else { throw TestFailure("fingerprint \(path): \(err)") }
        return out[out.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: ":", with: "").lowercased()
    }

    private static func run(_ arguments: [String]) throws {
        let (code, _, err) = try Command.run("/usr/bin/openssl", arguments)
        guard code == 0 else { throw TestFailure("openssl \(arguments.joined(separator: " ")): \(err)") }
    }
}
