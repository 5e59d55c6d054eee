/// Where a value came from: file and 1-based line. `line` is 0 when unknown (e.g. a control-plane source).
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(self.file):\(self.line)" }
}

/// Kubernetes object metadata, as Istio reads it.
public struct ObjectMeta: Sendable, Hashable {
    public var name: String
    /// Defaults to `default` when absent (configurable in the loader).
    public var namespace: String
    /// RFC 3339 text as written; used only for ordering (lexicographic order of RFC 3339 UTC is time order).
    public var creationTimestamp: String?
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Position of the object's document (line of `apiVersion`/the document start).
    public var position: SourcePosition
    /// Line of every field path the decoder visited, e.g. `spec.http[0].route[1].weight` → 42. Lets validation
    /// that runs after decoding name the right line. Lookups should fall back to the nearest parent path.
    public var fieldLines: [String: Int]

    public init(
        name: String, namespace: String, creationTimestamp: String? = nil, labels: [String: String] = [:],
        annotations: [String: String] = [:], position: SourcePosition = SourcePosition(file: "<inline>", line: 0),
        fieldLines: [String: Int] = [:]
    ) {
        self.name = name
        self.namespace = namespace
        self.creationTimestamp = creationTimestamp
        self.labels = labels
        self.annotations = annotations
        self.position = position
        self.fieldLines = fieldLines
    }

    /// The line of `path`, or of its nearest recorded parent, or of the object itself.
    public func line(of path: String) -> Int {
        var p = Substring(path)
        while !p.isEmpty {
            if let l = self.fieldLines[String(p)] { return l }
            if let i = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = p[..<i] } else { break }
        }
        return self.position.line
    }
}

/// Istio `StringMatch` (oneof exact | prefix | regex). `{}` or `regex: "*"` in header/query matches means
/// "present"; the decoder turns both into `.present`.
public enum StringMatch: Sendable, Hashable {
    case exact(String)
    case prefix(String)
    /// RE2 syntax, implicitly anchored at both ends (full match).
    case regex(String)
    case present
}

/// A `name → StringMatch` pair; kept as an ordered list so compiled output is deterministic.
public struct NamedMatch: Sendable, Hashable {
    public var name: String
    public var match: StringMatch
    public init(name: String, match: StringMatch) {
        self.name = name
        self.match = match
    }
}

/// A header name/value pair in declaration order.
public struct HeaderValue: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Istio port protocols. `HTTP`, `HTTP2`, `GRPC`, `GRPC-WEB` are the HTTP family; `HTTPS`, `TLS` the TLS family.
public enum PortProtocol: String, Sendable, Hashable, CaseIterable {
    case http = "HTTP"
    case https = "HTTPS"
    case grpc = "GRPC"
    case grpcWeb = "GRPC-WEB"
    case http2 = "HTTP2"
    case mongo = "MONGO"
    case tcp = "TCP"
    case tls = "TLS"
    case redis = "REDIS"
    case mysql = "MYSQL"
    case udp = "UDP"

    public var isHTTPFamily: Bool {
        switch self {
        case .http, .http2, .grpc, .grpcWeb: true
        default: false
        }
    }
    public var isTLSFamily: Bool { self == .https || self == .tls }
    /// Whether an upstream on this port speaks HTTP/2 by default.
    public var isHTTP2: Bool { self == .http2 || self == .grpc || self == .grpcWeb }
}

/// A `Port` as used by Gateway servers and ServiceEntries.
public struct Port: Sendable, Hashable {
    public var number: Int
    public var name: String
    public var `protocol`: PortProtocol
    public var targetPort: Int?
    public init(number: Int, name: String, protocol: PortProtocol, targetPort: Int? = nil) {
        self.number = number
        self.name = name
        self.protocol = `protocol`
        self.targetPort = targetPort
    }
}

/// A TLS protocol version bound (`TLS_AUTO` = nil in the model).
public enum TLSProtocolVersion: String, Sendable, Hashable {
    case auto = "TLS_AUTO"
    case tls10 = "TLSV1_0"
    case tls11 = "TLSV1_1"
    case tls12 = "TLSV1_2"
    case tls13 = "TLSV1_3"
}
