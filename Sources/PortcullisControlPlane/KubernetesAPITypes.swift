import Foundation
import PortcullisModel
import PortcullisTLS

/// Where the Kubernetes API server is and how to authenticate to it.
public struct KubernetesClusterConfig: Sendable {
    /// Host name or IP address of the API server.
    public var host: String
    /// TCP port of the API server.
    public var port: Int
    /// TLS settings; nil speaks plain HTTP (tests, `kubectl proxy`).
    public var tls: TLSClientConfiguration?
    /// A file holding the bearer token, re-read for every new request so a rotated (bound) token is picked up.
    public var tokenFile: String?
    /// A fixed bearer token, used when `tokenFile` is nil.
    public var token: String?
    /// Largest response body (list) or watch line accepted, in bytes.
    public var maxMessageBytes: Int

    /// Creates a configuration; without `tls` the connection is plain HTTP.
    public init(
        host: String, port: Int, tls: TLSClientConfiguration? = nil, tokenFile: String? = nil, token: String? = nil,
        maxMessageBytes: Int = 64 << 20
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.tokenFile = tokenFile
        self.token = token
        self.maxMessageBytes = maxMessageBytes
    }

    /// The default service-account directory mounted into every pod.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration, as client-go's `rest.InClusterConfig`: `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT`, the service-account token file (re-read on every request) and its `ca.crt`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = Self.serviceAccountDirectory
    ) throws -> KubernetesClusterConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let portText = environment["KUBERNETES_SERVICE_PORT"], let port = Int(portText), (1...65535).contains(port)
        else {
            throw KubernetesAPIError.configuration(
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let ca = serviceAccountDirectory + "/ca.crt"
        guard FileManager.default.fileExists(atPath: ca) else {
            throw KubernetesAPIError.configuration("missing service-account CA certificate \(ca)")
        }
        return KubernetesClusterConfig(
            host: host, port: port, tls: TLSClientConfiguration(trustRoots: .file(ca)),
            tokenFile: serviceAccountDirectory + "/token")
    }

    /// The namespace this pod runs in, from the service-account directory, or nil outside a cluster.
    public static func podNamespace(serviceAccountDirectory: String = Self.serviceAccountDirectory) -> String? {
        guard let text = try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8)
        else { return nil }
        let namespace = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return namespace.isEmpty ? nil : namespace
    }
}

/// A `meta/v1 Status`: what the API server sends with an error response or in a watch `ERROR` event.
public struct KubernetesStatus: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status code the failure corresponds to (410 for an expired resource version).
    public var code: Int
    /// The machine-readable reason (`Expired`, `Gone`, `Forbidden`, ...).
    public var reason: String
    /// The human-readable message.
    public var message: String

    /// Creates a status.
    public init(code: Int, reason: String, message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    /// Reads a Status object; fields that are missing become 0 or "".
    public init(json: KubernetesJSON) {
        self.code = json["code"]?.intValue ?? 0
        self.reason = json["reason"]?.stringValue ?? ""
        self.message = json["message"]?.stringValue ?? ""
    }

    /// Whether the resource version the client asked for is too old: the client must list again.
    public var isGone: Bool { self.code == 410 }

    public var description: String {
        let reason = self.reason.isEmpty ? "" : " \(self.reason)"
        return "\(self.code)\(reason): \(self.message)"
    }
}

/// A failure talking to the API server.
public enum KubernetesAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with an error status; `retryAfter` is the `Retry-After` header in seconds, if any.
    case status(KubernetesStatus, retryAfter: Int?)
    /// The connection ended before the response was complete.
    case connectionClosed(String)
    /// No bytes arrived for longer than the read timeout.
    case timedOut
    /// The response was not what the API defines.
    case invalidResponse(String)
    /// The client cannot be set up (missing environment, unreadable files, TLS context).
    case configuration(String)

    /// The Status of an error response, or nil.
    public var status: KubernetesStatus? {
        guard case .status(let status, _) = self else { return nil }
        return status
    }

    public var description: String {
        switch self {
        case .status(let status, _): return "API server error \(status)"
        case .connectionClosed(let detail): return "connection to the API server closed: \(detail)"
        case .timedOut: return "API server read timed out"
        case .invalidResponse(let detail): return "invalid response from the API server: \(detail)"
        case .configuration(let detail): return "Kubernetes client configuration: \(detail)"
        }
    }
}

/// One line of a watch response (`{"type": ..., "object": ...}`).
public enum KubernetesWatchEvent: Sendable, Hashable {
    /// An object was created (or is new to this watch).
    case added(KubernetesJSON)
    /// An object changed.
    case modified(KubernetesJSON)
    /// An object was deleted; the object is its last state, with the deletion's resource version.
    case deleted(KubernetesJSON)
    /// Progress without a change: only the resource version advances.
    case bookmark(resourceVersion: String)
    /// The watch failed; a 410 means the requested resource version is too old and the client must relist.
    case error(KubernetesStatus)

    /// Decodes one watch line.
    public init(json: KubernetesJSON) throws {
        guard let type = json["type"]?.stringValue, let object = json["object"], object.objectValue != nil else {
            throw KubernetesAPIError.invalidResponse("watch event without type and object")
        }
        switch type {
        case "ADDED": self = .added(object)
        case "MODIFIED": self = .modified(object)
        case "DELETED": self = .deleted(object)
        case "BOOKMARK":
            guard let version = object.resourceVersion else {
                throw KubernetesAPIError.invalidResponse("BOOKMARK without metadata.resourceVersion")
            }
            self = .bookmark(resourceVersion: version)
        case "ERROR": self = .error(KubernetesStatus(json: object))
        default: throw KubernetesAPIError.invalidResponse("unknown watch event type \"\(type)\"")
        }
    }
}
