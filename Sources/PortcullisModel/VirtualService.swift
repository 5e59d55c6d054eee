/// `networking.istio.io` `VirtualService` (ISTIO-SEMANTICS §2).
public struct VirtualService: Sendable, Hashable {
    public var meta: ObjectMeta
    /// As written (short names NOT yet expanded; see `HostName.expand`).
    public var hosts: [String]
    /// As written; empty = `[mesh]` (never applies to a gateway).
    public var gateways: [String]
    /// Empty = `*`.
    public var exportTo: [String]
    public var http: [HTTPRoute]
    public var tls: [TLSRoute]
    public var tcp: [TCPRoute]
    public init(
        meta: ObjectMeta, hosts: [String] = [], gateways: [String] = [], exportTo: [String] = [],
        http: [HTTPRoute] = [], tls: [TLSRoute] = [], tcp: [TCPRoute] = []
    ) {
        self.meta = meta
        self.hosts = hosts
        self.gateways = gateways
        self.exportTo = exportTo
        self.http = http
        self.tls = tls
        self.tcp = tcp
    }
}

/// `HTTPRoute` (§2.2). Exactly one of `route`, `redirect`, `directResponse`, `delegate` (validated).
public struct HTTPRoute: Sendable, Hashable {
    public var name: String?
    public var match: [HTTPMatchRequest] = []
    public var route: [HTTPRouteDestination] = []
    public var redirect: HTTPRedirect?
    public var directResponse: HTTPDirectResponse?
    public var delegate: Delegate?
    public var rewrite: HTTPRewrite?
    /// nil = no timeout (Istio disables the route timeout by default).
    public var timeout: Duration?
    public var retries: HTTPRetry?
    public var fault: HTTPFaultInjection?
    public var mirror: Destination?
    /// Percent 0–100; nil = 100 % when `mirror` is set.
    public var mirrorPercentage: Double?
    public var mirrors: [HTTPMirrorPolicy] = []
    public var corsPolicy: CorsPolicy?
    public var headers: Headers?
    public init() {}
}

/// `HTTPMatchRequest` (§2.3); every field optional, AND inside one entry.
public struct HTTPMatchRequest: Sendable, Hashable {
    public var name: String?
    public var uri: StringMatch?
    public var scheme: StringMatch?
    public var method: StringMatch?
    public var authority: StringMatch?
    /// Header names lower-cased by the decoder.
    public var headers: [NamedMatch] = []
    public var withoutHeaders: [NamedMatch] = []
    public var queryParams: [NamedMatch] = []
    public var ignoreUriCase: Bool = false
    public var port: Int?
    public var gateways: [String] = []
    public var sourceLabels: [String: String] = [:]
    public var sourceNamespace: String?
    public var statPrefix: String?
    public init() {}
}

/// `Destination`: host as written (short names expanded by the compiler), optional subset and port.
public struct Destination: Sendable, Hashable {
    public var host: String
    public var subset: String?
    public var port: Int?
    public init(host: String, subset: String? = nil, port: Int? = nil) {
        self.host = host
        self.subset = subset
        self.port = port
    }
}

public struct HTTPRouteDestination: Sendable, Hashable {
    public var destination: Destination
    /// nil when not written.
    public var weight: Int?
    public var headers: Headers?
    public init(destination: Destination, weight: Int? = nil, headers: Headers? = nil) {
        self.destination = destination
        self.weight = weight
        self.headers = headers
    }
}

/// `Headers` with request and response operations.
public struct Headers: Sendable, Hashable {
    public var request: HeaderOperations?
    public var response: HeaderOperations?
    public init(request: HeaderOperations? = nil, response: HeaderOperations? = nil) {
        self.request = request
        self.response = response
    }
}

public struct HeaderOperations: Sendable, Hashable {
    public var set: [HeaderValue] = []
    public var add: [HeaderValue] = []
    public var remove: [String] = []
    public init(set: [HeaderValue] = [], add: [HeaderValue] = [], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }
}

public enum RedirectPortSelection: String, Sendable, Hashable {
    case fromProtocolDefault = "FROM_PROTOCOL_DEFAULT"
    case fromRequestPort = "FROM_REQUEST_PORT"
}

/// `HTTPRedirect` (§2.5).
public struct HTTPRedirect: Sendable, Hashable {
    public var uri: String?
    public var prefixRewrite: String?
    public var authority: String?
    public var port: Int?
    public var derivePort: RedirectPortSelection?
    public var scheme: String?
    /// nil = 301.
    public var redirectCode: Int?
    public init() {}
}

/// `HTTPDirectResponse`; the body is bytes whether written as `string` or base64 `bytes`.
public struct HTTPDirectResponse: Sendable, Hashable {
    public var status: Int
    public var body: [UInt8]?
    public init(status: Int, body: [UInt8]? = nil) {
        self.status = status
        self.body = body
    }
}

public struct Delegate: Sendable, Hashable {
    public var name: String
    public var namespace: String?
    public init(name: String, namespace: String? = nil) {
        self.name = name
        self.namespace = namespace
    }
}

/// `HTTPRewrite` (§2.6).
public struct HTTPRewrite: Sendable, Hashable {
    public var uri: String?
    public var authority: String?
    public var uriRegexRewrite: RegexRewrite?
    public init() {}
}

public struct RegexRewrite: Sendable, Hashable {
    public var match: String
    public var rewrite: String
    public init(match: String, rewrite: String) {
        self.match = match
        self.rewrite = rewrite
    }
}

/// `HTTPRetry` (§2.7.1).
public struct HTTPRetry: Sendable, Hashable {
    public var attempts: Int
    public var perTryTimeout: Duration?
    public var retryOn: String?
    public var retryRemoteLocalities: Bool?
    public init(attempts: Int, perTryTimeout: Duration? = nil, retryOn: String? = nil) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.retryOn = retryOn
    }
}

/// `HTTPFaultInjection` (§2.7.3). Percentages are 0–100; nil = 0 % (no fault).
public struct HTTPFaultInjection: Sendable, Hashable {
    public struct Delay: Sendable, Hashable {
        public var fixedDelay: Duration
        public var percentage: Double?
        public init(fixedDelay: Duration, percentage: Double?) {
            self.fixedDelay = fixedDelay
            self.percentage = percentage
        }
    }
    public struct Abort: Sendable, Hashable {
        public var httpStatus: Int?
        public var grpcStatus: String?
        public var percentage: Double?
        public init(httpStatus: Int? = nil, grpcStatus: String? = nil, percentage: Double? = nil) {
            self.httpStatus = httpStatus
            self.grpcStatus = grpcStatus
            self.percentage = percentage
        }
    }
    public var delay: Delay?
    public var abort: Abort?
    public init(delay: Delay? = nil, abort: Abort? = nil) {
        self.delay = delay
        self.abort = abort
    }
}

public struct HTTPMirrorPolicy: Sendable, Hashable {
    public var destination: Destination
    /// nil = 100 %.
    public var percentage: Double?
    public init(destination: Destination, percentage: Double? = nil) {
        self.destination = destination
        self.percentage = percentage
    }
}

/// `CorsPolicy` (§2.7.4).
public struct CorsPolicy: Sendable, Hashable {
    public var allowOrigins: [StringMatch] = []
    public var allowMethods: [String] = []
    public var allowHeaders: [String] = []
    public var exposeHeaders: [String] = []
    public var maxAge: Duration?
    public var allowCredentials: Bool?
    /// `FORWARD` (default) or `IGNORE`.
    public var unmatchedPreflights: String?
    public init() {}
}

/// `TLSRoute` (§2.10).
public struct TLSRoute: Sendable, Hashable {
    public var match: [TLSMatchAttributes]
    public var route: [RouteDestination]
    public init(match: [TLSMatchAttributes], route: [RouteDestination]) {
        self.match = match
        self.route = route
    }
}

public struct TLSMatchAttributes: Sendable, Hashable {
    public var sniHosts: [String]
    public var port: Int?
    public var gateways: [String] = []
    public var destinationSubnets: [String] = []
    public var sourceLabels: [String: String] = [:]
    public var sourceNamespace: String?
    public init(sniHosts: [String], port: Int? = nil) {
        self.sniHosts = sniHosts
        self.port = port
    }
}

/// `TCPRoute` (§2.10).
public struct TCPRoute: Sendable, Hashable {
    public var match: [L4MatchAttributes]
    public var route: [RouteDestination]
    public init(match: [L4MatchAttributes] = [], route: [RouteDestination]) {
        self.match = match
        self.route = route
    }
}

public struct L4MatchAttributes: Sendable, Hashable {
    public var port: Int?
    public var gateways: [String] = []
    public var destinationSubnets: [String] = []
    public var sourceLabels: [String: String] = [:]
    public var sourceNamespace: String?
    public init(port: Int? = nil) { self.port = port }
}

/// `RouteDestination` for TLS/TCP routes.
public struct RouteDestination: Sendable, Hashable {
    public var destination: Destination
    public var weight: Int?
    public init(destination: Destination, weight: Int? = nil) {
        self.destination = destination
        self.weight = weight
    }
}
