import Foundation
import PortcullisTLS
import Yams

/// Reads a kubeconfig file (the `kubectl` format) into a ``KubernetesClusterConfig``: the current context's
/// cluster (`server`, `certificate-authority` or `-data`, `insecure-skip-tls-verify`, `tls-server-name`) and user
/// (`token`, `tokenFile`, or `client-certificate`/`client-key` and their `-data` forms). Relative file paths are
/// relative to the kubeconfig's directory, as kubectl reads them. `exec` and `auth-provider` users are refused
/// with a clear error: they need external programs.
public enum KubernetesKubeconfig {
    /// The cluster configuration of `context` (default: `current-context`).
    public static func load(path: String, context: String? = nil) throws -> KubernetesClusterConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubernetesAPIError.configuration("cannot read kubeconfig \(path): \(error.localizedDescription)")
        }
        return try self.parse(text, directory: (path as NSString).deletingLastPathComponent, context: context)
    }

    /// Parses kubeconfig text; `directory` anchors relative paths.
    public static func parse(_ text: String, directory: String, context: String? = nil) throws
        -> KubernetesClusterConfig
    {
        func fail(_ message: String) -> KubernetesAPIError { .configuration("kubeconfig: \(message)") }
        let root: [String: Any]
        do {
            guard let parsed = try Yams.load(yaml: text) as? [String: Any] else { throw fail("not a mapping") }
            root = parsed
        } catch let error as KubernetesAPIError {
            throw error
        } catch {
            throw fail("not valid YAML: \(error)")
        }
        guard let contextName = context ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw fail("no current-context")
        }
        func named(_ list: String, _ name: String, _ field: String) throws -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }),
                let body = entry[field] as? [String: Any]
            else { throw fail("no \(field) named \"\(name)\" in \(list)") }
            return body
        }
        let ctx = try named("contexts", contextName, "context")
        guard let clusterName = ctx["cluster"] as? String else { throw fail("context \(contextName) has no cluster") }
        let cluster = try named("clusters", clusterName, "cluster")
        let user = try (ctx["user"] as? String).map { try named("users", $0, "user") } ?? [:]
        if user["exec"] != nil || user["auth-provider"] != nil {
            throw fail("user of context \(contextName) uses exec/auth-provider, which is not supported; "
                + "use a token, a token file or a client certificate")
        }

        guard let server = cluster["server"] as? String, let url = URLComponents(string: server),
            let scheme = url.scheme, let host = url.host, !host.isEmpty
        else { throw fail("cluster \(clusterName) has no valid server URL") }
        let secure = scheme == "https"
        guard secure || scheme == "http" else { throw fail("server scheme must be https or http") }
        let port = url.port ?? (secure ? 443 : 80)
        func file(_ key: String) -> String? {
            guard let value = (cluster[key] ?? user[key]) as? String, !value.isEmpty else { return nil }
            return value.hasPrefix("/") ? value : (directory as NSString).appendingPathComponent(value)
        }
        func data(_ key: String) throws -> [UInt8]? {
            guard let value = (cluster[key] ?? user[key]) as? String, !value.isEmpty else { return nil }
            guard let bytes = Data(base64Encoded: value.filter { !$0.isWhitespace }) else {
                throw fail("\(key) is not valid base64")
            }
            return Array(bytes)
        }
        func pemOrFile(data dataKey: String, file fileKey: String) throws -> [UInt8]? {
            if let bytes = try data(dataKey) { return bytes }
            guard let path = file(fileKey) else { return nil }
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw fail("cannot read \(fileKey) \(path)")
            }
            return Array(contents)
        }

        var config = KubernetesClusterConfig(host: host, port: port)
        if secure {
            var tls = TLSClientConfiguration()
            if let ca = try pemOrFile(data: "certificate-authority-data", file: "certificate-authority") {
                tls.trustRoots = .pem(ca)
            }
            tls.insecureSkipVerify = cluster["insecure-skip-tls-verify"] as? Bool ?? false
            if let name = cluster["tls-server-name"] as? String, !name.isEmpty {
                tls.serverName = name
                tls.verifyHostname = name
            }
            let certificate = try pemOrFile(data: "client-certificate-data", file: "client-certificate")
            let key = try pemOrFile(data: "client-key-data", file: "client-key")
            switch (certificate, key) {
            case (let certificate?, let key?): tls.certificate = .pem(certificateChain: certificate, privateKey: key)
            case (nil, nil): break
            default: throw fail("client-certificate and client-key must be given together")
            }
            config.tls = tls
        }
        if let token = user["token"] as? String, !token.isEmpty {
            config.token = token
        } else if let tokenFile = user["tokenFile"] as? String, !tokenFile.isEmpty {
            config.tokenFile =
                tokenFile.hasPrefix("/") ? tokenFile : (directory as NSString).appendingPathComponent(tokenFile)
        }
        return config
    }
}
