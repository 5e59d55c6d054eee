import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// HTTPS termination through the real binary with real clients (curl, `openssl s_client`): several certificates
/// on one port chosen by SNI, per-server route tables, httpsRedirect, protocol versions, credentialName Secrets
/// and `validate` on a broken certificate path (ISTIO-SEMANTICS §1.4, §1.5).
@Suite(.serialized)
struct TLSTerminationIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        let httpsPort: Int
        let httpPort: Int
        let backend: TestBackend
        let certs: TestCertificates
    }

    /// One HTTPS port with servers `a.example.com`, `b.example.com` and `*.wild.example.com` (each with its own
    /// certificate), plus an HTTP port with `httpsRedirect` on `*`. Every host routes to the `echo` backend.
    private func start(extraTLS: String = "") async throws -> Setup {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let httpsPort = try FreePort.allocate()
        let httpPort = try FreePort.allocate()
        let servers: [TLSConfigs.Server] = [
            .init(
                port: httpsPort, name: "https-a", hosts: ["a.example.com"],
                tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA, extra: extraTLS)),
            .init(
                port: httpsPort, name: "https-b", hosts: ["b.example.com"],
                tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverB, extra: extraTLS)),
            .init(
                port: httpsPort, name: "https-wild", hosts: ["*.wild.example.com"],
                tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.wildcard, extra: extraTLS)),
            .init(port: httpPort, name: "http", protocolName: "HTTP", hosts: ["*"], tls: "{httpsRedirect: true}"),
        ]
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: servers),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": TLSConfigs.httpRoutes(
                hosts: ["a.example.com", "b.example.com", "*.wild.example.com"], destination: "echo.internal"),
        ])
        do {
            try await gateway.waitUntilReady()
        } catch {
            await backend.stop()
            throw error
        }
        return Setup(gateway: gateway, httpsPort: httpsPort, httpPort: httpPort, backend: backend, certs: certs)
    }

    @Test func twoCertificatesOnOnePortAreChosenBySNI() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let port = setup.httpsPort
        let ca = setup.certs.ca.certificatePath

        let a = try TLSCurl.get(host: "a.example.com", port: port, path: "/hello", caFile: ca)
        #expect(a.exitCode == 0, "\(a.verbose)")
        #expect(a.status == 200)
        #expect(a.header("x-backend") == "echo")
        #expect(a.serverSubject?.contains("CN=a-server") == true, "\(a.serverSubject ?? a.verbose)")
        // curl offers h2 and http/1.1; the gateway prefers h2 (Istio offers `h2,http/1.1`).
        #expect(a.verbose.contains("ALPN: server accepted h2"), "\(a.verbose)")

        let b = try TLSCurl.get(host: "b.example.com", port: port, path: "/hello", caFile: ca)
        #expect(b.exitCode == 0, "\(b.verbose)")
        #expect(b.status == 200)
        #expect(b.serverSubject?.contains("CN=b-server") == true, "\(b.serverSubject ?? b.verbose)")

        let wild = try TLSCurl.get(host: "x.wild.example.com", port: port, caFile: ca)
        #expect(wild.exitCode == 0, "\(wild.verbose)")
        #expect(wild.status == 200)
        #expect(wild.serverSubject?.contains("CN=wildcard-server") == true, "\(wild.serverSubject ?? wild.verbose)")

        // The same choice seen by a second client.
        let sClient = try OpenSSLClient.connect(port: port, serverName: "b.example.com", caFile: ca)
        #expect(sClient.handshakeSucceeded, "\(sClient.stderr)")
        #expect(sClient.peerCertificate?.contains("CN = b-server") == true, "\(sClient.stderr)")

        let seen = try #require(setup.backend.seen.first { $0.header("host") == "a.example.com:\(port)" })
        #expect(seen.uri == "/hello")
        #expect(seen.header("x-forwarded-proto") == "https")
        await setup.backend.stop()
    }

    /// Exact name, then the longest wildcard, then the catch-all `*` (which also takes clients without SNI).
    /// Certificates are not verified here (the catch-all's does not name the hosts); the subject shows the choice.
    @Test func sniSelectionPrefersExactThenLongestWildcardThenCatchAll() async throws {
        let certs = try TestCertificates.shared()
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(port: port, name: "catch-all", hosts: ["*"], tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.secretServer)),
                .init(
                    port: port, name: "short-wild", hosts: ["*.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverB)),
                .init(
                    port: port, name: "long-wild", hosts: ["*.wild.example.com"],
                    tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.wildcard)),
                .init(port: port, name: "exact", hosts: ["a.example.com"], tls: TLSConfigs.fileTLS(mode: "SIMPLE", certs.serverA)),
            ])
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let cases: [(sni: String?, commonName: String)] = [
            ("a.example.com", "a-server"), ("x.wild.example.com", "wildcard-server"),
            ("deep.x.wild.example.com", "wildcard-server"), ("y.example.com", "b-server"),
            ("wild.example.com", "b-server"), ("elsewhere.org", "secret-server"), (nil, "secret-server"),
        ]
        for (sni, commonName) in cases {
            let result = try OpenSSLClient.connect(
                port: port, serverName: sni ?? "", caFile: nil, arguments: sni == nil ? ["-noservername"] : [])
            #expect(result.handshakeSucceeded, "\(sni ?? "no SNI"): \(result.stderr)")
            #expect(
                result.peerCertificate?.contains("CN = \(commonName)") == true,
                "\(sni ?? "no SNI"): \(result.peerCertificate ?? result.stderr)")
        }
    }

    @Test func keepAliveAndLargeBodiesOverTLS() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let port = setup.httpsPort
        // Two requests on one TLS connection.
        let (code, out, err) = try Command.run(
            "/usr/bin/curl",
            [
                "-sS", "-v", "--max-time", "60", "--resolve", "a.example.com:\(port):127.0.0.1", "--cacert", ca,
                "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\\n", "https://a.example.com:\(port)/one",
                "-o", "/dev/null", "https://a.example.com:\(port)/two",
            ])
        #expect(code == 0, "\(err)")
        #expect(out == "200 1\n200 0\n", "\(out)")
        #expect(err.contains("Re-using existing connection"), "\(err)")

        // 8 MiB down (chunked, streamed by the backend) and 8 MiB up through the TLS handler.
        let size = 8 * 1024 * 1024
        let (downCode, downOut, downErr) = try Command.run(
            "/usr/bin/curl",
            [
                "-sS", "--max-time", "60", "--resolve", "a.example.com:\(port):127.0.0.1", "--cacert", ca,
                "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "https://a.example.com:\(port)/bytes/\(size)",
            ])
        #expect(downCode == 0, "\(downErr)")
        #expect(downOut == "200 \(size)")
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("upload-\(UUID().uuidString)")
        try Data(repeating: UInt8(ascii: "u"), count: size).write(to: upload)
        defer { try? FileManager.default.removeItem(at: upload) }
        let up = try TLSCurl.get(
            host: "a.example.com", port: port, path: "/upload", caFile: ca, ["--data-binary", "@\(upload.path)"])
        #expect(up.exitCode == 0, "\(up.verbose)")
        #expect(up.status == 200)
        #expect(up.body == "received \(size) bytes\n")
        await setup.backend.stop()
    }

    @Test func unknownSNIClosesTheConnection() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let result = try TLSCurl.get(
            host: "unknown.example.org", port: setup.httpsPort, caFile: setup.certs.ca.certificatePath)
        #expect(result.exitCode == 35, "\(result.verbose)")
        #expect(result.status == 0)
        // No SNI at all, and no catch-all server: closed too.
        let noSNI = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "", caFile: nil, arguments: ["-noservername"])
        #expect(!noSNI.handshakeSucceeded, "\(noSNI.stderr)")
        #expect(setup.backend.seen.isEmpty)
        // The gateway still serves the names it knows afterwards.
        let known = try TLSCurl.get(host: "a.example.com", port: setup.httpsPort, caFile: setup.certs.ca.certificatePath)
        #expect(known.status == 200, "\(known.verbose)")
        await setup.backend.stop()
    }

    @Test func hostThatIsOnlyOnAnotherServerOfThePortGets404() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        // SNI a.example.com selects server https-a, whose route table has no b.example.com (no 421, no fallthrough).
        let crossed = try TLSCurl.get(
            host: "a.example.com", port: setup.httpsPort, path: "/crossed", caFile: ca, ["-H", "Host: b.example.com"])
        #expect(crossed.exitCode == 0, "\(crossed.verbose)")
        #expect(crossed.serverSubject?.contains("CN=a-server") == true)
        #expect(crossed.status == 404)
        #expect(!setup.backend.seen.contains { $0.uri == "/crossed" })
        // Control: the same Host header with its own SNI is routed.
        let direct = try TLSCurl.get(
            host: "b.example.com", port: setup.httpsPort, path: "/direct", caFile: ca, ["-H", "Host: b.example.com"])
        #expect(direct.status == 200)
        #expect(setup.backend.seen.contains { $0.uri == "/direct" && $0.header("host") == "b.example.com" })
        await setup.backend.stop()
    }

    @Test func httpsRedirectAnswers301ToHTTPS() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        // shop.example.com has no VirtualService: the redirect applies to route-less vhosts too.
        let moved = try Curl.get(
            "http://127.0.0.1:\(setup.httpPort)/some/path?x=1&y=2", ["-H", "Host: shop.example.com"])
        #expect(moved.exitCode == 0)
        #expect(moved.status == 301)
        #expect(moved.header("location") == "https://shop.example.com/some/path?x=1&y=2")
        // The Host is kept as sent, port included.
        let withPort = try Curl.get("http://127.0.0.1:\(setup.httpPort)/p", ["-H", "Host: a.example.com:8443"])
        #expect(withPort.status == 301)
        #expect(withPort.header("location") == "https://a.example.com:8443/p")
        #expect(setup.backend.seen.isEmpty)
        await setup.backend.stop()
    }

    @Test func tls11IsRefusedWhileTLS12And13Work() async throws {
        let setup = try await self.start()
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        // OpenSSL 3 clients only offer TLS 1.1 at security level 0.
        let legacy = ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]

        // Control: this client really can speak TLS 1.1 (against an s_server that allows it).
        let oldServer = try OpenSSLServer(
            identity: setup.certs.serverA, extraArguments: ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        defer { oldServer.stop() }
        try await oldServer.waitUntilAccepting()
        let control = try OpenSSLClient.connect(
            port: oldServer.port, serverName: "a.example.com", caFile: ca, arguments: legacy)
        #expect(control.handshakeSucceeded, "control: \(control.stderr)")
        #expect(control.protocolVersion == "TLSv1.1")
        oldServer.stop()

        let refused = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: legacy)
        #expect(!refused.handshakeSucceeded, "\(refused.stderr)")
        #expect(refused.exitCode != 0)
        #expect(refused.stderr.contains("alert protocol version"), "\(refused.stderr)")

        let request = "GET /version HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n"
        for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
            let result = try OpenSSLClient.connect(
                port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: [flag], send: request)
            #expect(result.handshakeSucceeded, "\(flag): \(result.stderr)")
            #expect(result.protocolVersion == version, "\(flag): \(result.stderr)")
            #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(flag): \(result.stdout)")
        }
        await setup.backend.stop()
    }

    @Test func minProtocolVersionTLS13RefusesATLS12OnlyClient() async throws {
        let setup = try await self.start(extraTLS: "minProtocolVersion: TLSV1_3")
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let old = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: ["-tls1_2"])
        #expect(!old.handshakeSucceeded, "\(old.stderr)")
        #expect(old.exitCode != 0)
        let curlOld = try TLSCurl.get(host: "a.example.com", port: setup.httpsPort, caFile: ca, ["--tls-max", "1.2"])
        #expect(curlOld.exitCode == 35, "\(curlOld.verbose)")
        #expect(curlOld.status == 0)

        let current = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: ["-tls1_3"])
        #expect(current.handshakeSucceeded, "\(current.stderr)")
        #expect(current.protocolVersion == "TLSv1.3")
        let curlNew = try TLSCurl.get(host: "a.example.com", port: setup.httpsPort, caFile: ca)
        #expect(curlNew.status == 200, "\(curlNew.verbose)")
        #expect(curlNew.tlsVersion == "TLSv1.3", "\(curlNew.verbose)")
        await setup.backend.stop()
    }

    @Test func maxProtocolVersionTLS12RefusesATLS13OnlyClient() async throws {
        let setup = try await self.start(extraTLS: "maxProtocolVersion: TLSV1_2")
        defer { _ = setup.gateway.stop() }
        let ca = setup.certs.ca.certificatePath
        let new = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: ["-tls1_3"])
        #expect(!new.handshakeSucceeded, "\(new.stderr)")
        let old = try OpenSSLClient.connect(
            port: setup.httpsPort, serverName: "a.example.com", caFile: ca, arguments: ["-tls1_2"])
        #expect(old.handshakeSucceeded, "\(old.stderr)")
        #expect(old.protocolVersion == "TLSv1.2")
        let curl = try TLSCurl.get(host: "a.example.com", port: setup.httpsPort, caFile: ca)
        #expect(curl.status == 200, "\(curl.verbose)")
        #expect(curl.tlsVersion == "TLSv1.2", "\(curl.verbose)")
        await setup.backend.stop()
    }

    @Test func credentialNameReadsAKubernetesTLSSecret() async throws {
        let certs = try TestCertificates.shared()
        let backend = try await TestBackend.start(name: "echo")
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "https-secret", hosts: ["secret.example.com"],
                    tls: "{mode: SIMPLE, credentialName: secret-cred}")
            ]),
            "secret.yaml": TLSConfigs.secret(
                name: "secret-cred", type: "kubernetes.io/tls",
                data: ["tls.crt": certs.secretServer.certificatePEM, "tls.key": certs.secretServer.keyPEM]),
            "se.yaml": Configs.serviceEntry(name: "echo", host: "echo.internal", endpoints: [(backend.port, [:])]),
            "vs.yaml": TLSConfigs.httpRoutes(hosts: ["secret.example.com"], destination: "echo.internal"),
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let result = try TLSCurl.get(
            host: "secret.example.com", port: port, path: "/from-secret", caFile: certs.ca.certificatePath)
        #expect(result.exitCode == 0, "\(result.verbose)")
        #expect(result.status == 200)
        #expect(result.serverSubject?.contains("CN=secret-server") == true, "\(result.serverSubject ?? result.verbose)")
        #expect(backend.seen.contains { $0.uri == "/from-secret" })
        await backend.stop()
    }

    /// Rotating the certificate files (write and rename, as cert-manager or a kubelet volume would) reaches new
    /// handshakes without a restart.
    @Test func rotatedCertificateFilesReachNewHandshakes() async throws {
        let certs = try TestCertificates.shared()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-tls-rotate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certPath = directory.appendingPathComponent("tls.crt").path
        let keyPath = directory.appendingPathComponent("tls.key").path
        func install(_ identity: TestCertificates.Identity) throws {
            for (content, path) in [(identity.certificatePEM, certPath), (identity.keyPEM, keyPath)] {
                try content.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
                _ = rename(path + ".tmp", path)
            }
        }
        try install(certs.serverA)
        let port = try FreePort.allocate()
        let gateway = try GatewayProcess(files: [
            "gateway.yaml": TLSConfigs.gateway(servers: [
                .init(
                    port: port, name: "https", hosts: ["a.example.com"],
                    tls: "{mode: SIMPLE, serverCertificate: \(certPath), privateKey: \(keyPath)}")
            ])
        ])
        defer { _ = gateway.stop() }
        try await gateway.waitUntilReady()
        let ca = certs.ca.certificatePath
        let before = try TLSCurl.get(host: "a.example.com", port: port, caFile: ca)
        #expect(before.serverSubject?.contains("CN=a-server") == true, "\(before.verbose)")
        try install(certs.serverARotated)
        let deadline = ContinuousClock.now + .seconds(30)
        var subject: String?
        while ContinuousClock.now < deadline {
            subject = try TLSCurl.get(host: "a.example.com", port: port, caFile: ca).serverSubject
            if subject?.contains("CN=a-server-rotated") == true { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(subject?.contains("CN=a-server-rotated") == true, "still serving \(subject ?? "nothing")")
        #expect(gateway.process.isRunning)
    }

    @Test func validateRejectsAMissingCertificateFileNamingTheGatewayAndField() throws {
        let certs = try TestCertificates.shared()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-tls-validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("does-not-exist.pem").path
        let yaml = TLSConfigs.gateway(
            name: "broken-tls",
            servers: [
                .init(
                    port: 8443, name: "https", hosts: ["a.example.com"],
                    tls: "{mode: SIMPLE, serverCertificate: \(missing), privateKey: \(certs.serverA.keyPath)}")
            ])
        try yaml.write(to: directory.appendingPathComponent("gw.yaml"), atomically: true, encoding: .utf8)
        let (code, out, err) = try Command.run(GatewayProcess.binary, ["validate", "--config", directory.path])
        #expect(code == 1, "stdout: \(out) stderr: \(err)")
        let problems = err.split(separator: "\n").filter { $0.contains("Gateway istio-system/broken-tls") }
        #expect(problems.contains { $0.contains("spec.servers[0].tls") }, "\(err)")
        #expect(problems.contains { $0.contains("does-not-exist.pem") }, "the message should name the file: \(err)")

        // Control: the same config with the real file validates.
        let good = yaml.replacingOccurrences(of: missing, with: certs.serverA.certificatePath)
        try good.write(to: directory.appendingPathComponent("gw.yaml"), atomically: true, encoding: .utf8)
        let (goodCode, goodOut, goodErr) = try Command.run(
            GatewayProcess.binary, ["validate", "--config", directory.path])
        #expect(goodCode == 0, "\(goodErr)")
        #expect(goodOut.hasPrefix("ok: "))
    }
}
