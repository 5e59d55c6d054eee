import Foundation
import PortcullisTLS
import Testing

@testable import PortcullisControlPlane

/// kubeconfig files (the kubectl format).
@Suite struct KubernetesKubeconfigTests {
    func text(cluster: String, user: String, context: String = "test") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: \(context)
        contexts:
        - name: other
          context: {cluster: other, user: other}
        - name: test
          context: {cluster: c1, user: u1, namespace: ns}
        clusters:
        - name: c1
          cluster:
        \(cluster)
        users:
        - name: u1
          user:
        \(user)
        """
    }

    @Test func tokenAndEmbeddedCA() throws {
        let ca = Data("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8)
        let config = try KubernetesKubeconfig.parse(
            self.text(
                cluster: "    server: https://127.0.0.1:6443\n    certificate-authority-data: \(ca.base64EncodedString())",
                user: "    token: abc"),
            directory: "/tmp")
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 6443)
        #expect(config.token == "abc")
        #expect(config.tls?.trustRoots == .pem(Array(ca)))
        #expect(config.tls?.certificate == nil)
    }

    @Test func clientCertificateFilesRelativeToTheKubeconfig() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "CERT".write(to: directory.appendingPathComponent("client.crt"), atomically: true, encoding: .utf8)
        try "KEY".write(to: directory.appendingPathComponent("client.key"), atomically: true, encoding: .utf8)
        try "CA".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("config").path
        try self.text(
            cluster: "    server: https://api.example.com\n    certificate-authority: ca.crt",
            user: "    client-certificate: client.crt\n    client-key: client.key"
        ).write(toFile: path, atomically: true, encoding: .utf8)
        let config = try KubernetesKubeconfig.load(path: path)
        #expect(config.host == "api.example.com")
        #expect(config.port == 443)
        #expect(config.tls?.trustRoots == .pem(Array("CA".utf8)))
        #expect(config.tls?.certificate == .pem(certificateChain: Array("CERT".utf8), privateKey: Array("KEY".utf8)))
        #expect(config.token == nil)
    }

    @Test func plainHTTPAndTokenFile() throws {
        let config = try KubernetesKubeconfig.parse(
            self.text(cluster: "    server: http://localhost:8001", user: "    tokenFile: token"),
            directory: "/etc/kube")
        #expect(config.tls == nil)
        #expect(config.port == 8001)
        #expect(config.tokenFile == "/etc/kube/token")
    }

    @Test func unsupportedOrBrokenConfigsAreClearErrors() {
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesKubeconfig.parse(
                self.text(cluster: "    server: https://x", user: "    exec: {command: aws}"), directory: "/")
        }
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesKubeconfig.parse(
                self.text(cluster: "    server: https://x", user: "    token: t", context: "missing"), directory: "/")
        }
        #expect(throws: KubernetesAPIError.self) {
            try KubernetesKubeconfig.parse(
                self.text(cluster: "    server: https://x", user: "    client-certificate-data: QUFB"), directory: "/")
        }
    }
}
