import Foundation
import Testing

/// The Istio egress-gateway patterns of ISTIO-SEMANTICS §4.3 end to end through the real binary (issue 5): the
/// `gateways: [istio-egressgateway]` half of each istio.io task, with "external" servers on 127.0.0.1.
///
/// One egress gateway carries every pattern, as a real one would:
/// - port `http` (HTTP): `www.example.com` (a MESH_EXTERNAL ServiceEntry with `resolution: DNS` whose endpoint is the
///   name `localhost`, resolved by the gateway; `targetPort` names the TestBackend's port), `static.example.org`
///   (STATIC endpoints),
///   `implicit.example.com` (TLS origination to an `openssl s_server`), `nose.example.com` (routed to a host that
///   has no ServiceEntry) and `novs.example.org` (on the Gateway, in no VirtualService);
/// - port `tls` (TLS PASSTHROUGH): `pt.example.com`, a DNS ServiceEntry whose endpoint is the name `localhost`;
/// - port `wild` (TLS PASSTHROUGH): `*.example.com`, routed by a `tls` match on `*.example.com` to the concrete
///   host `www.example.com:443` (pattern D);
/// - a second Gateway, `other-gateway`, on its own HTTP port, bound by the same VirtualService, to show that
///   `match.gateways` selects rules per gateway rather than dropping every rule that names one.
///
/// The TLS "external" server presents `TestCertificates.backend` (`pt.example.com`, `implicit.example.com`, signed
/// by `backendCA`), which neither the gateway nor the system roots know: a client that verifies it against
/// `backendCA` saw the external server itself, not the gateway.
///
/// The external hosts all have dots: a dotless host in a VirtualService (`localhost`) is a short name that Istio
/// expands to `localhost.<namespace>.svc.cluster.local`, so `localhost` appears only as an endpoint address.
@Suite(.serialized)
struct EgressPatternIntegrationTests {
    struct Setup {
        let gateway: GatewayProcess
        /// The egress gateway's HTTP port (pattern A's port 80).
        let httpPort: Int
        /// The egress gateway's PASSTHROUGH port for `pt.example.com` (pattern B's port 443).
        let tlsPort: Int
        /// The egress gateway's PASSTHROUGH port for `*.example.com` (pattern D).
        let wildPort: Int
        /// `other-gateway`'s HTTP port.
        let otherPort: Int
        /// Behind `www.example.com:80` (DNS, endpoint `localhost`).
        let dnsBackend: TestBackend
        /// Behind `static.example.org:80` (STATIC).
        let staticBackend: TestBackend
        /// Behind `mesh-side.internal`: reached only if a rule for another gateway (or `mesh`) applied.
        let wrongBackend: TestBackend
        /// The TLS external server (`openssl s_server -www`).
        let external: OpenSSLServer
        let certs: TestCertificates

        func stop() {
            _ = self.gateway.stop()
            self.external.stop()
            for backend in [self.dnsBackend, self.staticBackend, self.wrongBackend] {
                backend.channel.close(promise: nil)
            }
        }
    }

    static func configs(
        httpPort: Int, tlsPort: Int, wildPort: Int, otherPort: Int, dnsBackend: Int, staticBackend: Int,
        wrongBackend: Int, external: Int, caFile: String
    ) -> [String: String] {
        [
            "gateway.yaml": """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: istio-egressgateway, namespace: default}
                spec:
                  selector: {istio: egressgateway}
                  servers:
                  - port: {number: \(httpPort), name: http, protocol: HTTP}
                    hosts: [www.example.com, static.example.org, implicit.example.com, nose.example.com, novs.example.org]
                  - port: {number: \(tlsPort), name: tls, protocol: TLS}
                    hosts: [pt.example.com]
                    tls: {mode: PASSTHROUGH}
                  - port: {number: \(wildPort), name: tls-wildcard, protocol: TLS}
                    hosts: ["*.example.com"]
                    tls: {mode: PASSTHROUGH}
                ---
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: other-gateway, namespace: default}
                spec:
                  selector: {istio: egressgateway}
                  servers:
                  - port: {number: \(otherPort), name: http, protocol: HTTP}
                    hosts: [www.example.com]
                """,
            "serviceentries.yaml": """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: www-external, namespace: default}
                spec:
                  hosts: [www.example.com]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: \(dnsBackend)}
                  - {number: 443, name: tls, protocol: TLS, targetPort: \(external)}
                  endpoints: [{address: localhost}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: static-external, namespace: default}
                spec:
                  hosts: [static.example.org]
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  endpoints: [{address: 127.0.0.1, ports: {http: \(staticBackend)}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: pt-external, namespace: default}
                spec:
                  hosts: [pt.example.com]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: 443, name: tls, protocol: TLS}]
                  endpoints: [{address: localhost, ports: {tls: \(external)}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: implicit-external, namespace: default}
                spec:
                  hosts: [implicit.example.com]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports:
                  - {number: 80, name: http, protocol: HTTP}
                  - {number: 443, name: https, protocol: HTTPS}
                  endpoints: [{address: localhost, ports: {https: \(external)}}]
                ---
                \(Configs.serviceEntry(name: "mesh-side", host: "mesh-side.internal", endpoints: [(wrongBackend, [:])]))
                """,
            "destinationrule.yaml": """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: implicit-originate-tls, namespace: default}
                spec:
                  host: implicit.example.com
                  trafficPolicy:
                    loadBalancer: {simple: ROUND_ROBIN}
                    portLevelSettings:
                    - port: {number: 443}
                      tls: {mode: SIMPLE, caCertificates: \(caFile)}
                """,
            "virtualservices.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: direct-www-through-egress-gateway, namespace: default}
                spec:
                  hosts: [www.example.com]
                  gateways: [istio-egressgateway, other-gateway, mesh]
                  http:
                  - match: [{gateways: [mesh]}]
                    route: [{destination: {host: mesh-side.internal, port: {number: 80}}}]
                  - match: [{gateways: [other-gateway]}]
                    route: [{destination: {host: mesh-side.internal, port: {number: 80}}}]
                  - match: [{gateways: [istio-egressgateway], port: \(httpPort)}]
                    route: [{destination: {host: www.example.com, port: {number: 80}}, weight: 100}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: direct-static-through-egress-gateway, namespace: default}
                spec:
                  hosts: [static.example.org]
                  gateways: [istio-egressgateway, mesh]
                  http:
                  - match: [{gateways: [mesh], port: 80}]
                    route: [{destination: {host: mesh-side.internal, port: {number: 80}}}]
                  - match: [{gateways: [istio-egressgateway], port: \(httpPort)}]
                    route: [{destination: {host: static.example.org, port: {number: 80}}, weight: 100}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: direct-pt-through-egress-gateway, namespace: default}
                spec:
                  hosts: [pt.example.com]
                  gateways: [istio-egressgateway, mesh]
                  tls:
                  - match: [{gateways: [mesh], port: 443, sniHosts: [pt.example.com]}]
                    route: [{destination: {host: mesh-side.internal, port: {number: 80}}}]
                  - match: [{gateways: [istio-egressgateway], port: \(tlsPort), sniHosts: [pt.example.com]}]
                    route: [{destination: {host: pt.example.com, port: {number: 443}}, weight: 100}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: originate-tls-for-implicit, namespace: default}
                spec:
                  hosts: [implicit.example.com]
                  gateways: [istio-egressgateway]
                  http:
                  - match: [{gateways: [istio-egressgateway], port: \(httpPort)}]
                    route: [{destination: {host: implicit.example.com, port: {number: 443}}, weight: 100}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: direct-wildcard-through-egress-gateway, namespace: default}
                spec:
                  hosts: ["*.example.com"]
                  gateways: [istio-egressgateway]
                  tls:
                  - match: [{gateways: [istio-egressgateway], port: \(wildPort), sniHosts: ["*.example.com"]}]
                    route: [{destination: {host: www.example.com, port: {number: 443}}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: route-to-undeclared-host, namespace: default}
                spec:
                  hosts: [nose.example.com]
                  gateways: [istio-egressgateway]
                  http:
                  - route: [{destination: {host: nose.example.com, port: {number: 80}}}]
                """,
        ]
    }

    private func start() async throws -> Setup {
        let certs = try TestCertificates.shared()
        let external = try OpenSSLServer(identity: certs.backend)
        var backends: [TestBackend] = []
        do {
            try await external.waitUntilAccepting()
            for name in ["external-dns", "external-static", "mesh-side"] {
                backends.append(try await TestBackend.start(name: name))
            }
            let ports = try (0..<4).map { _ in try FreePort.allocate() }
            let gateway = try GatewayProcess(
                files: Self.configs(
                    httpPort: ports[0], tlsPort: ports[1], wildPort: ports[2], otherPort: ports[3],
                    dnsBackend: backends[0].port, staticBackend: backends[1].port, wrongBackend: backends[2].port,
                    external: external.port, caFile: certs.backendCA.certificatePath))
            try await gateway.waitUntilReady()
            return Setup(
                gateway: gateway, httpPort: ports[0], tlsPort: ports[1], wildPort: ports[2], otherPort: ports[3],
                dnsBackend: backends[0], staticBackend: backends[1], wrongBackend: backends[2], external: external,
                certs: certs)
        } catch {
            external.stop()
            for backend in backends { await backend.stop() }
            throw error
        }
    }

    /// Runs `request` until `done` holds or 15 s pass, and returns the last result: a margin for `resolution: DNS`,
    /// which resolves off the event loop (in practice the gateway has resolved before `/ready` answers 200).
    private static func eventually<R>(
        _ request: () throws -> R, until done: (R) -> Bool
    ) async throws -> R {
        let deadline = ContinuousClock.now + .seconds(15)
        var result = try request()
        while !done(result), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            result = try request()
        }
        return result
    }

    /// Polls `/stats/prometheus` until `done` holds (bounded); returns the last exposition.
    private static func metrics(_ setup: Setup, until done: (String) -> Bool = { _ in true }) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        var text = try await setup.gateway.metrics()
        while !done(text), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            text = try await setup.gateway.metrics()
        }
        return text
    }

    private static func allowed(_ metrics: String, _ entry: String) -> Double {
        PrometheusText.egressAllowed(metrics, mode: "gateway", serviceEntry: entry)
    }

    /// The access log once the gateway has stopped (stopping flushes it).
    private static func accessLog(_ setup: Setup) -> String {
        _ = setup.gateway.stop()
        return (try? String(contentsOfFile: setup.gateway.accessLogPath, encoding: .utf8)) ?? ""
    }

    // MARK: A. HTTP through the egress gateway

    @Test func httpToADNSServiceEntryKeepsOnlyTheRulesForThisGateway() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let result = try await Self.eventually({
            try Curl.get("http://127.0.0.1:\(setup.httpPort)/a/dns?q=1", ["-H", "Host: www.example.com"])
        }, until: { $0.status == 200 })
        #expect(result.status == 200, "\(result)")
        // Rule 3 (gateways: [istio-egressgateway]) applied; rules 1 (mesh) and 2 (other-gateway) were filtered out.
        #expect(result.header("x-backend") == "external-dns", "\(result)")
        #expect(result.header("server") == "portcullis")
        let seen = try #require(setup.dnsBackend.seen.last)
        #expect(seen.uri == "/a/dns?q=1")
        #expect(seen.header("host") == "www.example.com")
        #expect(setup.wrongBackend.seen.isEmpty, "a rule for mesh or other-gateway applied at the egress gateway")

        // The same VirtualService at other-gateway: there, only the other-gateway rule applies.
        let other = try Curl.get("http://127.0.0.1:\(setup.otherPort)/b", ["-H", "Host: www.example.com"])
        #expect(other.status == 200, "\(other)")
        #expect(other.header("x-backend") == "mesh-side", "\(other)")
        #expect(setup.dnsBackend.seen.allSatisfy { $0.uri != "/b" })

        // Egress to the MESH_EXTERNAL entry is counted by its name; the MESH_INTERNAL stand-in is not egress.
        let metrics = try await Self.metrics(setup)
        #expect(Self.allowed(metrics, "default/www-external") >= 1, "\(metrics)")
        #expect(Self.allowed(metrics, "default/mesh-side") == 0, "\(metrics)")

        let log = Self.accessLog(setup)
        #expect(log.contains("\"GET /a/dns?q=1 HTTP/1.1\" 200"), "\(log)")
    }

    @Test func httpToAStaticServiceEntry() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let result = try Curl.get("http://127.0.0.1:\(setup.httpPort)/static", ["-H", "Host: static.example.org"])
        #expect(result.status == 200, "\(result)")
        #expect(result.header("x-backend") == "external-static", "\(result)")
        let seen = try #require(setup.staticBackend.seen.last)
        #expect(seen.uri == "/static")
        #expect(seen.header("host") == "static.example.org")
        #expect(setup.wrongBackend.seen.isEmpty, "the mesh rule applied at the egress gateway")
        // The Host with the gateway port, as a client that does not rewrite it sends it, is the same virtual host.
        let withPort = try Curl.get(
            "http://127.0.0.1:\(setup.httpPort)/static2", ["-H", "Host: static.example.org:\(setup.httpPort)"])
        #expect(withPort.status == 200, "\(withPort)")
        #expect(withPort.header("x-backend") == "external-static")
        let metrics = try await Self.metrics(setup)
        #expect(Self.allowed(metrics, "default/static-external") == 2, "\(metrics)")
    }

    // MARK: B. HTTPS passthrough by SNI

    @Test func httpsPassthroughBySNIReachesTheExternalServerItself() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let caFile = setup.certs.backendCA.certificatePath
        let result = try await Self.eventually({
            try TLSCurl.get(host: "pt.example.com", port: setup.tlsPort, path: "/", caFile: caFile)
        }, until: { $0.exitCode == 0 })
        #expect(result.exitCode == 0, "\(result.verbose)\n\(setup.external.log)")
        #expect(result.status == 200)
        // curl verified the external server's certificate against its own CA: the gateway did not terminate.
        #expect(result.serverSubject?.contains("CN=backend-server") == true, "\(result.serverSubject ?? result.verbose)")
        #expect(result.body.contains("s_server"), "\(result.body)")
        #expect(result.header("server") == nil, "no gateway header on spliced bytes")
        #expect(setup.wrongBackend.seen.isEmpty)
        // Counted when the spliced connection ends; logged with the SNI, the cluster, the address and bytes.
        let metrics = try await Self.metrics(setup) { Self.allowed($0, "default/pt-external") >= 1 }
        #expect(Self.allowed(metrics, "default/pt-external") >= 1, "\(metrics)")
        let log = Self.accessLog(setup)
        let line = log.split(separator: "\n").first { $0.contains("outbound|443||pt.example.com") }
        #expect(line?.contains(" pt.example.com ") == true, "\(log)")
        #expect(line?.contains("\"127.0.0.1:\(setup.external.port)\"") == true, "\(log)")
    }

    // MARK: C. TLS origination

    @Test func plainHTTPInIsOriginatedAsTLSToTheExternalPort() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let result = try await Self.eventually({
            try Curl.get("http://127.0.0.1:\(setup.httpPort)/originated", ["-H", "Host: implicit.example.com"])
        }, until: { $0.status == 200 })
        // s_server -www only answers over TLS that it accepted: SNI and SAN came from the Host, the CA from the DR.
        #expect(result.status == 200, "\(result)\n\(setup.external.log)")
        #expect(result.body.contains("s_server"), "\(result.body)")
        #expect(result.header("server") == "portcullis")
        let metrics = try await Self.metrics(setup)
        #expect(Self.allowed(metrics, "default/implicit-external") >= 1, "\(metrics)")
        let log = Self.accessLog(setup)
        #expect(log.contains("\"GET /originated HTTP/1.1\" 200"), "\(log)")
    }

    // MARK: D. Wildcard hosts

    @Test func wildcardGatewayAndSNIMatchRouteToAConcreteHost() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let caFile = setup.certs.backendCA.certificatePath
        // Any name under *.example.com reaches www.example.com:443 (the s_server); curl verifies a name its SAN
        // lists.
        let result = try await Self.eventually({
            try TLSCurl.get(host: "implicit.example.com", port: setup.wildPort, path: "/", caFile: caFile)
        }, until: { $0.exitCode == 0 })
        #expect(result.exitCode == 0, "\(result.verbose)\n\(setup.external.log)")
        #expect(result.status == 200)
        #expect(result.serverSubject?.contains("CN=backend-server") == true, "\(result.serverSubject ?? result.verbose)")
        #expect(result.body.contains("s_server"))

        for name in ["www.example.com", "pt.example.com", "anything.example.com"] {
            let any = try OpenSSLClient.connect(port: setup.wildPort, serverName: name, caFile: nil)
            #expect(any.handshakeSucceeded, "\(name): \(any.stderr)")
            #expect(any.peerCertificate?.contains("CN = backend-server") == true, "\(name): \(any.stderr)")
        }
        // Outside the wildcard: closed, as an unknown SNI.
        let outside = try TLSCurl.get(host: "www.example.org", port: setup.wildPort, caFile: caFile)
        #expect(outside.exitCode == 35, "\(outside.verbose)")
    }

    // MARK: E. What is not declared is refused

    @Test func hostBoundNowhereGets404() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        for host in ["edition.cnn.com", "novs.example.org", "pt.example.com", "localhost"] {
            let result = try Curl.get("http://127.0.0.1:\(setup.httpPort)/nr-\(host)", ["-H", "Host: \(host)"])
            #expect(result.status == 404, "\(host): \(result)")
            #expect(result.body.isEmpty, "\(host): \(result.body)")
        }
        // other-gateway binds only www.example.com: static.example.org is not served there.
        let elsewhere = try Curl.get("http://127.0.0.1:\(setup.otherPort)/", ["-H", "Host: static.example.org"])
        #expect(elsewhere.status == 404, "\(elsewhere)")
        #expect(setup.staticBackend.seen.isEmpty)
        let log = Self.accessLog(setup)
        #expect(log.contains("\"GET /nr-edition.cnn.com HTTP/1.1\" 404 NR"), "\(log)")
    }

    @Test func routeToAHostWithoutServiceEntryGets503() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let result = try Curl.get("http://127.0.0.1:\(setup.httpPort)/nc", ["-H", "Host: nose.example.com"])
        #expect(result.status == 503, "\(result)")
        #expect(result.body.isEmpty, "\(result.body)")
        let metrics = try await Self.metrics(setup)
        #expect(
            PrometheusText.egressDenied(metrics, mode: "gateway", reason: "no_service_entry") == 1, "\(metrics)")
        let egressLines = metrics.split(separator: "\n").filter { $0.hasPrefix("portcullis_egress_attempts_total") }
        #expect(!egressLines.contains { $0.contains("nose.example.com") }, "the host is never an egress label")
        let log = Self.accessLog(setup)
        #expect(log.contains("\"GET /nc HTTP/1.1\" 503 NC"), "\(log)")
    }

    @Test func unknownSNIClosesTheConnection() async throws {
        let setup = try await self.start()
        defer { setup.stop() }
        let caFile = setup.certs.backendCA.certificatePath
        // implicit.example.com is on the wildcard port only; edition.cnn.com nowhere.
        for host in ["implicit.example.com", "edition.cnn.com"] {
            let result = try TLSCurl.get(host: host, port: setup.tlsPort, caFile: caFile)
            #expect(result.exitCode == 35, "\(host): \(result.verbose)")
            #expect(result.status == 0)
        }
        // No SNI at all is unknown too.
        let noSNI = try OpenSSLClient.connect(port: setup.tlsPort, serverName: "", caFile: nil, arguments: ["-noservername"])
        #expect(!noSNI.handshakeSucceeded, "\(noSNI.stderr)")
        // And the declared name still passes on the same port afterwards.
        let declared = try await Self.eventually({
            try TLSCurl.get(host: "pt.example.com", port: setup.tlsPort, caFile: caFile)
        }, until: { $0.exitCode == 0 })
        #expect(declared.exitCode == 0, "\(declared.verbose)")
        #expect(setup.external.log.contains("ACCEPT"))
    }
}
