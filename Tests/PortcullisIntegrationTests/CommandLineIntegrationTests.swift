import Foundation
import Testing

/// `portcullis validate`, `explain` and `version` as a user runs them.
struct CommandLineIntegrationTests {
    private func writeConfig(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, content) in files {
            try content.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func validateAcceptsTheBundledExamples() throws {
        let root = GatewayProcess.packageRoot.path
        for path in ["\(root)/config/quickstart", "\(root)/config/examples"] {
            let (code, out, err) = try Command.run(GatewayProcess.binary, ["validate", "--config", path])
            #expect(code == 0, "\(path): \(err)")
            #expect(out.hasPrefix("ok: "))
        }
    }

    @Test func validateReportsEveryProblemWithFileLineObjectAndField() throws {
        let dir = try self.writeConfig([
            "bad.yaml": """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata:
                  name: broken
                  namespace: shop
                spec:
                  hosts: [shop.example.com]
                  gateways: [istio-system/gw]
                  http:
                  - timeout: 10q
                    route:
                    - destination: {host: cart}
                      weight: -1
                """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let (code, _, err) = try Command.run(GatewayProcess.binary, ["validate", "--config", dir.path])
        #expect(code == 1)
        let lines = err.split(separator: "\n").filter { !$0.contains("warning") }
        #expect(lines.count >= 2, "\(err)")
        let file = dir.appendingPathComponent("bad.yaml").path
        #expect(lines.contains { $0.hasPrefix("\(file):10: VirtualService shop/broken: spec.http[0].timeout: ") })
        #expect(lines.contains { $0.hasPrefix("\(file):13: VirtualService shop/broken: spec.http[0].route[0].weight: ") })
    }

    @Test func explainNamesTheRouteAndCluster() throws {
        let root = GatewayProcess.packageRoot.path
        let (code, out, err) = try Command.run(
            GatewayProcess.binary,
            ["explain", "--config", "\(root)/config/examples", "GET", "http://bookinfo.example.com:8080/productpage"])
        #expect(code == 0, "\(err)")
        #expect(out.contains("productpage"))
        #expect(out.contains("outbound|9080||productpage.bookinfo.svc.cluster.local"))
    }

    @Test func runRejectsAMalformedDNSServer() throws {
        let root = GatewayProcess.packageRoot.path
        for bad in ["dns.example:53", "127.0.0.1:0", "127.0.0.1:99999"] {
            let (code, _, err) = try Command.run(
                GatewayProcess.binary, ["run", "--config", "\(root)/config/quickstart", "--dns-server", bad])
            #expect(code != 0, "\(bad)")
            #expect(err.contains("--dns-server"), "\(bad): \(err)")
        }
    }

    @Test func versionPrintsLinkedLibraries() throws {
        let (code, out, _) = try Command.run(GatewayProcess.binary, ["version"])
        #expect(code == 0)
        #expect(out.contains("portcullis "))
        #expect(out.contains("openssl OpenSSL 3"))
        #expect(out.contains("nghttp2 1."))
        #expect(out.contains("zlib 1."))
    }
}
