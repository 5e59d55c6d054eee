import Foundation

/// Certificates generated once per test run with the `openssl` CLI into a fresh temporary directory. No key
/// material is committed to the repository.
///
/// - CA A (ECDSA P-256) is trusted; CA B (RSA 2048) is not.
/// - `alpha` (ECDSA, A): `DNS:alpha.example.com`; `wildcard` (RSA 2048, A): `DNS:*.example.com`;
///   `fallback` (ECDSA, A): `DNS:default.test`; `rogue` (ECDSA, B): `DNS:alpha.example.com`.
/// - `client` (ECDSA, A): `URI:spiffe://cluster.local/ns/default/sa/client`, `DNS:client.test`;
///   `rogueClient` (RSA 2048, B): `URI:spiffe://cluster.local/ns/default/sa/rogue`.
struct CertificateFixtures: Sendable {
    struct Identity: Sendable {
        let certificatePath: String
        let keyPath: String
        let certificatePEM: [UInt8]
        let keyPEM: [UInt8]
    }

    let directory: String
    let trustedCAPath: String
    let trustedCAPEM: [UInt8]
    let untrustedCAPEM: [UInt8]
    let alpha: Identity
    let wildcard: Identity
    let fallback: Identity
    let rogue: Identity
    let client: Identity
    let rogueClient: Identity

    static let clientSPIFFE = "spiffe://cluster.local/ns/default/sa/client"

    /// The fixtures shared by every test; generated on first use.
    static func shared() throws -> CertificateFixtures {
        try sharedResult.get()
    }

    private static let sharedResult = Result { try CertificateFixtures.generate() }

    /// The directory to delete when the test process exits (keys never outlive the run).
    nonisolated(unsafe) private static var directoryToRemove: String?

    private static func generate() throws -> CertificateFixtures {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-tls-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Runs once, under the lazy initialisation of `sharedResult`.
        Self.directoryToRemove = directory
        atexit {
            if let directory = CertificateFixtures.directoryToRemove {
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
        func makeCA(_ name: String, _ algorithm: String) throws {
            try run(
                ["req", "-x509", "-new"] + key(algorithm) + [
                    "-nodes", "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem",
                    "-days", "2", "-subj", "/CN=Portcullis \(name)", "-config", config, "-extensions", "ca_ext",
                ])
        }
        var serial = 1
        func makeLeaf(_ name: String, _ algorithm: String, ca: String, san: String) throws -> Identity {
            serial += 1
            let base = "\(directory)/\(name)"
            try run(
                ["req", "-new"] + key(algorithm) + [
                    "-nodes", "-keyout", "\(base).key", "-out", "\(base).csr", "-subj", "/CN=\(name)",
                    "-config", config,
                ])
            try """
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = serverAuth,clientAuth
            subjectAltName = \(san)
            """.write(toFile: "\(base).ext", atomically: true, encoding: .utf8)
            try run([
                "x509", "-req", "-in", "\(base).csr", "-CA", "\(directory)/\(ca).pem", "-CAkey",
                "\(directory)/\(ca).key", "-set_serial", "\(serial)", "-days", "2", "-out", "\(base).pem",
                "-extfile", "\(base).ext",
            ])
            return Identity(
                certificatePath: "\(base).pem", keyPath: "\(base).key", certificatePEM: try read("\(base).pem"),
                keyPEM: try read("\(base).key"))
        }

        try makeCA("caA", "ec")
        try makeCA("caB", "rsa")
        return CertificateFixtures(
            directory: directory,
            trustedCAPath: "\(directory)/caA.pem",
            trustedCAPEM: try read("\(directory)/caA.pem"),
            untrustedCAPEM: try read("\(directory)/caB.pem"),
            alpha: try makeLeaf("alpha", "ec", ca: "caA", san: "DNS:alpha.example.com"),
            wildcard: try makeLeaf("wildcard", "rsa", ca: "caA", san: "DNS:*.example.com"),
            fallback: try makeLeaf("fallback", "ec", ca: "caA", san: "DNS:default.test"),
            rogue: try makeLeaf("rogue", "ec", ca: "caB", san: "DNS:alpha.example.com"),
            client: try makeLeaf("client", "ec", ca: "caA", san: "URI:\(clientSPIFFE), DNS:client.test"),
            rogueClient: try makeLeaf(
                "rogueClient", "rsa", ca: "caB", san: "URI:spiffe://cluster.local/ns/default/sa/rogue"))
    }

    private static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(
                message: "openssl \(arguments.joined(separator: " ")): \(String(decoding: output, as: UTF8.self))")
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String

    var description: String {
        self.message
    }
}
