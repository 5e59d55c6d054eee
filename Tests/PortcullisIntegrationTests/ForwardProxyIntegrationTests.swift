import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Forward-proxy mode through the real binary with curl and openssl as clients (issue 5; HARDENING §B7 rows 1, 2,
/// 6, 7, 8): CONNECT tunnels and absolute-form requests allowed only for ServiceEntry host **and** port, 403 with a
/// body naming the rule otherwise, SNI inside the tunnel checked against the CONNECT host, IP literals only through
/// ServiceEntry `addresses`, and names resolving to loopback refused unless `allowedPrivateCIDRs` lists them.
///
/// The "external" servers run on 127.0.0.1 and are reached by the name `localhost` (resolved by the gateway, no
/// `/etc/hosts` edits): a `TestBackend` for plain HTTP and an `openssl s_server` with its own CA for HTTPS.
@Suite(.serialized)
struct ForwardProxyIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        /// `allowedPrivateCIDRs: [127.0.0.0/8, ::1/128]`.
        let proxyPort: Int
        /// No private allowance: loopback destinations are refused.
        let strictPort: Int
        let backend: TestBackend
        let tls: OpenSSLServer
        let caFile: String

        func stop() {
            _ = self.gateway.stop()
            self.tls.stop()
            self.backend.channel.close(promise: nil)
        }
    }

    /// CA and `localhost` leaf (`DNS:localhost, IP:127.0.0.1`) for the s_server, generated once per run.
    static let certificates = Result { try EgressCertificates.generate() }

    private func start() async throws -> Setup {
        let certs = try Self.certificates.get()
        let tls = try OpenSSLServer(identity: certs.leaf)
        let backend = try await TestBackend.start(name: "plain")
        do {
            try await tls.waitUntilAccepting()
            let proxyPort = try FreePort.allocate()
            let strictPort = try FreePort.allocate()
            let gateway = try GatewayProcess(files: [
                "proxy.yaml": """
                    apiVersion: portcullis.dev/v1alpha1
                    kind: ForwardProxy
                    metadata: {name: egress, namespace: istio-system}
                    spec:
                      port: \(proxyPort)
                      allowedPrivateCIDRs: [127.0.0.0/8, "::1/128"]
                    ---
                    apiVersion: portcullis.dev/v1alpha1
                    kind: ForwardProxy
                    metadata: {name: strict, namespace: istio-system}
                    spec:
                      port: \(strictPort)
                      bind: 127.0.0.1
                    """,
                "se.yaml": """
                    apiVersion: networking.istio.io/v1
                    kind: ServiceEntry
                    metadata: {name: tls-local, namespace: default}
                    spec:
                      hosts: [localhost]
                      ports: [{number: \(tls.port), name: tls, protocol: TLS}]
                      resolution: DNS
                    ---
                    apiVersion: networking.istio.io/v1
                    kind: ServiceEntry
                    metadata: {name: http-local, namespace: default}
                    spec:
                      hosts: [localhost]
                      ports: [{number: \(backend.port), name: http, protocol: HTTP}]
                      resolution: DNS
                    ---
                    apiVersion: networking.istio.io/v1
                    kind: ServiceEntry
                    metadata: {name: literal, namespace: default}
                    spec:
                      hosts: [literal.internal]
                      addresses: [127.0.0.1]
                      ports: [{number: \(tls.port), name: tls, protocol: TLS}]
                      resolution: STATIC
                      endpoints: [{address: 127.0.0.1}]
                    ---
                    apiVersion: networking.istio.io/v1
                    kind: ServiceEntry
                    metadata: {name: hidden, namespace: other}
                    spec:
                      hosts: [localhost]
                      exportTo: ["."]
                      ports: [{number: 15000, name: admin, protocol: HTTP}]
                      resolution: DNS
                    """,
            ])
            try await gateway.waitUntilReady()
            try await Self.waitForListener(port: proxyPort)
            try await Self.waitForListener(port: strictPort)
            return Setup(
                gateway: gateway, proxyPort: proxyPort, strictPort: strictPort, backend: backend, tls: tls,
                caFile: certs.ca.certificatePath)
        } catch {
            tls.stop()
            await backend.stop()
            throw error
        }
    }

    static func waitForListener(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? RawClient.exchange(port: port, bytes: "", timeoutSeconds: 1)) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("forward proxy not listening on \(port)")
    }

    /// Polls the access log until a line contains every fragment.
    static func logLine(_ gateway: GatewayProcess, containing fragments: [String]) async -> String? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: gateway.accessLogPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { line in
                fragments.allSatisfy { line.contains($0) }
            }) {
                return String(line)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// A raw CONNECT; the answer is read until the proxy closes or `timeoutSeconds` pass (an open tunnel).
    static func connect(_ proxyPort: Int, _ target: String, timeoutSeconds: Int = 1) throws -> String {
        try RawClient.exchange(
            port: proxyPort, bytes: "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n",
            timeoutSeconds: timeoutSeconds)
    }

    // MARK: CONNECT

    @Test func allowedConnectCarriesTLSEndToEnd() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let url = "https://localhost:\(setup.tls.port)/"
        let viaFlag = try Curl.request(["-x", "http://127.0.0.1:\(setup.proxyPort)", "--cacert", setup.caFile, url])
        #expect(viaFlag.exitCode == 0, "\(viaFlag)")
        #expect(viaFlag.status == 200)
        #expect(viaFlag.body.contains("s_server"), "\(viaFlag.body)")

        // HTTPS_PROXY from the environment, as applications are configured.
        let viaEnv = try EnvCurl.run(
            ["--cacert", setup.caFile, url], environment: ["HTTPS_PROXY": "http://127.0.0.1:\(setup.proxyPort)"])
        #expect(viaEnv.0 == 0, "\(viaEnv)")
        #expect(viaEnv.1.contains("s_server"))

        // --proxytunnel forces CONNECT for plain http too; the tunnel carries the request to the HTTP backend.
        let tunnel = try Curl.request([
            "-x", "http://127.0.0.1:\(setup.proxyPort)", "--proxytunnel", "http://localhost:\(setup.backend.port)/t",
        ])
        #expect(tunnel.status == 200, "\(tunnel)")
        #expect(setup.backend.seen.last?.uri == "/t")

        let line = await Self.logLine(
            setup.gateway, containing: ["CONNECT", "localhost:\(setup.tls.port)", "default/tls-local", " 200 "])
        #expect(line != nil)
        #expect(line?.contains("\"localhost\"") == true || line?.contains(" localhost ") == true, "\(line ?? "")")
        let metrics = try await setup.gateway.metrics()
        #expect(
            PrometheusText.egressAllowed(metrics, mode: "forward_proxy", serviceEntry: "default/tls-local") >= 2,
            "\(metrics)")
    }

    @Test func deniedConnectGets403NamingTheRule() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let raw = try Self.connect(setup.proxyPort, "api.evil.example:443")
        #expect(raw.hasPrefix("HTTP/1.1 403 Forbidden"), "\(raw)")
        #expect(raw.lowercased().contains("content-type: text/plain"))
        #expect(raw.contains("egress denied: api.evil.example:443 is not in any ServiceEntry"), "\(raw)")

        // The allowed host on a port its ServiceEntry does not declare (envoy#28002), and one only exported
        // to another namespace.
        let wrongPort = try Self.connect(setup.proxyPort, "localhost:22")
        #expect(wrongPort.hasPrefix("HTTP/1.1 403"), "\(wrongPort)")
        #expect(wrongPort.contains("port 22 is not declared"), "\(wrongPort)")
        let hidden = try Self.connect(setup.proxyPort, "localhost:15000")
        #expect(hidden.hasPrefix("HTTP/1.1 403"), "\(hidden)")

        let curl = try Curl.request(["-x", "http://127.0.0.1:\(setup.proxyPort)", "https://api.evil.example/"])
        #expect(curl.exitCode == 56, "\(curl)")

        #expect(await Self.logLine(setup.gateway, containing: ["CONNECT", "api.evil.example:443", " 403 "]) != nil)
        let metrics = try await setup.gateway.metrics()
        // api.evil.example twice (raw CONNECT, curl), the undeclared port, the entry exported elsewhere.
        #expect(PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "not_in_allowlist") == 4, "\(metrics)")
        #expect(!metrics.contains("api.evil.example"), "the requested host must never be a label")
    }

    @Test func ipLiteralsNeedAServiceEntryAddress() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        // 127.0.0.1 on the s_server port is listed by the `literal` entry's addresses; curl sends no SNI to an IP.
        let allowed = try Curl.request([
            "-x", "http://127.0.0.1:\(setup.proxyPort)", "--cacert", setup.caFile,
            "https://127.0.0.1:\(setup.tls.port)/",
        ])
        #expect(allowed.exitCode == 0, "\(allowed)")
        #expect(allowed.body.contains("s_server"))
        // The strict proxy allows it too: the ServiceEntry names that exact address.
        let strict = try Self.connect(setup.strictPort, "127.0.0.1:\(setup.tls.port)")
        #expect(strict.hasPrefix("HTTP/1.1 200 Connection Established"), "\(strict)")

        for target in [
            "127.0.0.1:\(setup.backend.port)", "127.0.0.1:\(setup.gateway.adminPort)", "169.254.169.254:80",
            "[::ffff:127.0.0.1]:9000", "2130706433:80", "0x7f.0.0.1:\(setup.tls.port)", "127.1:\(setup.tls.port)",
        ] {
            let raw = try Self.connect(setup.proxyPort, target)
            #expect(raw.hasPrefix("HTTP/1.1 403"), "\(target): \(raw)")
            #expect(raw.contains("egress denied"), "\(target): \(raw)")
        }
        // The mapped form of the listed address is the same address.
        let mapped = try Self.connect(setup.proxyPort, "[::ffff:127.0.0.1]:\(setup.tls.port)")
        #expect(mapped.hasPrefix("HTTP/1.1 200"), "\(mapped)")
        let metrics = try await setup.gateway.metrics()
        #expect(PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "ip_literal") == 7, "\(metrics)")
        #expect(PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "not_in_allowlist") == 0)
    }

    @Test func sniMismatchInsideAnAllowedTunnelCloses() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let proxy = "127.0.0.1:\(setup.proxyPort)"
        let target = "localhost:\(setup.tls.port)"
        let fronted = try TimedCommand.run(
            "/usr/bin/openssl",
            ["s_client", "-proxy", proxy, "-connect", target, "-servername", "evil.example", "-brief"],
            stdin: Data(), timeoutSeconds: 20)
        #expect(!fronted.2.contains("CONNECTION ESTABLISHED"), "\(fronted.2)")
        let line = await Self.logLine(setup.gateway, containing: ["SNI_evil.example_does_not_match"])
        #expect(line != nil)
        let metrics = try await setup.gateway.metrics()
        #expect(PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "sni_mismatch") == 1, "\(metrics)")

        let matching = try TimedCommand.run(
            "/usr/bin/openssl",
            ["s_client", "-proxy", proxy, "-connect", target, "-servername", "localhost", "-brief", "-CAfile",
             setup.caFile, "-verify_return_error"],
            stdin: Data(), timeoutSeconds: 20)
        #expect(matching.2.contains("CONNECTION ESTABLISHED"), "\(matching.2)")
    }

    @Test func loopbackDestinationsNeedAllowedPrivateCIDRs() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let refused = try Self.connect(setup.strictPort, "localhost:\(setup.tls.port)")
        #expect(refused.hasPrefix("HTTP/1.1 403"), "\(refused)")
        #expect(refused.contains("resolves to 127.0.0.1"), "\(refused)")
        #expect(refused.contains("allowedPrivateCIDRs"), "\(refused)")
        let refusedGet = try Curl.request(
            ["-x", "http://127.0.0.1:\(setup.strictPort)", "http://localhost:\(setup.backend.port)/x"])
        #expect(refusedGet.status == 403, "\(refusedGet)")
        #expect(setup.backend.seen.isEmpty)
        let metrics = try await setup.gateway.metrics()
        #expect(
            PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "private_address") == 2, "\(metrics)")

        let allowed = try Self.connect(setup.proxyPort, "localhost:\(setup.tls.port)")
        #expect(allowed.hasPrefix("HTTP/1.1 200 Connection Established"), "\(allowed)")
    }

    // MARK: Absolute-form

    @Test func absoluteFormAllowedAndDenied() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let proxy = "http://127.0.0.1:\(setup.proxyPort)"
        let ok = try Curl.request(["-x", proxy, "-H", "Proxy-Authorization: Basic Zm9vOmJhcg==",
                                   "http://localhost:\(setup.backend.port)/echo?q=1"])
        #expect(ok.status == 200, "\(ok)")
        #expect(ok.header("x-backend") == "plain")
        let seen = setup.backend.seen.last
        #expect(seen?.uri == "/echo?q=1", "origin-form upstream")
        #expect(seen?.header("host") == "localhost:\(setup.backend.port)")
        #expect(seen?.header("proxy-connection") == nil)
        #expect(seen?.header("proxy-authorization") == nil)

        // Keep-alive: two requests on one client connection reach the backend.
        let before = setup.backend.seen.count
        let twice = try Curl.request([
            "-x", proxy, "http://localhost:\(setup.backend.port)/a", "http://localhost:\(setup.backend.port)/b",
        ])
        #expect(twice.status == 200)
        #expect(setup.backend.seen.count == before + 2)

        // Bodies stream both ways with backpressure: a 2 MB upload (Content-Length, then chunked).
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("egress-\(UUID().uuidString)")
        try Data(repeating: 0x61, count: 2_000_000).write(to: upload)
        defer { try? FileManager.default.removeItem(at: upload) }
        for extra in [[String](), ["-H", "Transfer-Encoding: chunked"]] {
            let posted = try Curl.request(
                ["-x", proxy, "--data-binary", "@\(upload.path)"] + extra
                    + ["http://localhost:\(setup.backend.port)/up"])
            #expect(posted.status == 200, "\(posted)")
            #expect(posted.body.contains("2000000"), "\(posted.body)")
        }
        let download = try Curl.request(["-x", proxy, "http://localhost:\(setup.backend.port)/bytes/3000000"])
        #expect(download.status == 200)
        #expect(download.body.utf8.count == 3_000_000, "\(download.body.utf8.count)")

        // Redirects are relayed, never followed (HARDENING §B7 row 8).
        let redirect = try Curl.request(["-x", proxy, "http://localhost:\(setup.backend.port)/status/302"])
        #expect(redirect.status == 302, "\(redirect)")

        let denied = try Curl.request(["-x", proxy, "http://api.evil.example/"])
        #expect(denied.status == 403, "\(denied)")
        #expect(denied.header("content-type") == "text/plain")
        #expect(denied.body.contains("egress denied: api.evil.example:80 is not in any ServiceEntry"), "\(denied.body)")

        let origin = try RawClient.exchange(port: setup.proxyPort, bytes: "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(origin.hasPrefix("HTTP/1.1 400"), "\(origin)")

        let line = await Self.logLine(
            setup.gateway, containing: ["GET", "http://localhost:\(setup.backend.port)/echo?q=1", "default/http-local"])
        #expect(line?.contains(" 200 ") == true, "\(line ?? "no line")")
        let metrics = try await setup.gateway.metrics()
        // /echo, /a, /b, two uploads, the download and the redirect.
        #expect(
            PrometheusText.egressAllowed(metrics, mode: "forward_proxy", serviceEntry: "default/http-local") == 7,
            "\(metrics)")
        #expect(PrometheusText.egressDenied(metrics, mode: "forward_proxy", reason: "not_in_allowlist") == 1)
    }

    @Test func absoluteFormIsAuthorisedOnTheTargetNotTheHostHeader() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        // Allowed Host, forbidden target (B7 row 6): refused.
        let metadata = try RawClient.exchange(
            port: setup.proxyPort,
            bytes: "GET http://169.254.169.254/latest HTTP/1.1\r\nHost: localhost:\(setup.backend.port)\r\n\r\n")
        #expect(metadata.hasPrefix("HTTP/1.1 403"), "\(metadata)")
        #expect(metadata.contains("169.254.169.254:80"), "\(metadata)")
        // Forbidden Host, allowed target: forwarded, with Host replaced by the target authority.
        let fronted = try Curl.request([
            "-x", "http://127.0.0.1:\(setup.proxyPort)", "-H", "Host: evil.example",
            "http://localhost:\(setup.backend.port)/h",
        ])
        #expect(fronted.status == 200, "\(fronted)")
        #expect(setup.backend.seen.last?.header("host") == "localhost:\(setup.backend.port)")
        #expect(setup.backend.seen.count == 1)
    }
}

/// curl with an explicit environment (so `HTTPS_PROXY` is the only proxy setting it sees).
enum EnvCurl {
    static func run(_ arguments: [String], environment: [String: String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-S", "--max-time", "20"] + arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { first, _ in first }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A CA and a `localhost` server certificate made with the `openssl` CLI in a temporary directory.
struct EgressCertificates: Sendable {
    let ca: TestCertificates.Identity
    let leaf: TestCertificates.Identity

    static func generate() throws -> EgressCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-egress-certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem", "-days", "2", "-subj",
                "/CN=Egress Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try Self.openssl(
            ["req"] + ec + [
                "-keyout", "\(directory)/leaf.key", "-out", "\(directory)/leaf.csr", "-subj", "/CN=localhost",
            ])
        try """
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature,keyEncipherment
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:localhost, IP:127.0.0.1
        """.write(toFile: "\(directory)/leaf.ext", atomically: true, encoding: .utf8)
        try Self.openssl([
            "x509", "-req", "-in", "\(directory)/leaf.csr", "-CA", "\(directory)/ca.pem", "-CAkey",
            "\(directory)/ca.key", "-set_serial", "77", "-days", "2", "-out", "\(directory)/leaf.pem", "-extfile",
            "\(directory)/leaf.ext",
        ])
        func identity(_ name: String, _ commonName: String) -> TestCertificates.Identity {
            TestCertificates.Identity(
                commonName: commonName, certificatePath: "\(directory)/\(name).pem",
                keyPath: "\(directory)/\(name).key",
                certificatePEM: "", keyPEM: "", sha256Hex: "")
        }
        return EgressCertificates(ca: identity("ca", "Egress Test CA"), leaf: identity("leaf", "localhost"))
    }

    private static func openssl(_ arguments: [String]) throws {
        let (code, _, err) = try Command.run("/usr/bin/openssl", arguments)
        guard code == 0 else { throw TestFailure("openssl \(arguments.first ?? "") failed: \(err)") }
    }
}
