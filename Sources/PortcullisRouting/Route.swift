/// One compiled `http[]` rule of a VirtualService (ISTIO-SEMANTICS §2.2), ready for the data plane.
public final class Route: Sendable {
    /// The rule's `name`, or `""` when unnamed; see `RouteMatchResult.name` for the `route.match` form.
    public let name: String
    /// `ns/name` of the VirtualService that declared the rule.
    public let virtualService: String
    /// Index of the rule in the VirtualService's `http[]` list.
    public let index: Int
    /// OR-ed match entries; empty means catch-all.
    public let matches: [RouteMatcher]
    public let action: RouteAction
    /// Route-level header operations (authority writes already extracted into the rewrite).
    public let requestHeaders: HeaderMutation
    public let responseHeaders: HeaderMutation
    /// nil = no timeout: Istio disables the route timeout by default (§2.2).
    public let timeout: Duration?
    public let retry: RetryPolicy
    public let fault: FaultPolicy?
    public let mirrors: [MirrorPolicy]
    /// Compiled `corsPolicy`; nil when the rule has none.
    public let cors: RouteCORS?

    init(
        name: String, virtualService: String, index: Int, matches: [RouteMatcher], action: RouteAction,
        requestHeaders: HeaderMutation, responseHeaders: HeaderMutation, timeout: Duration?, retry: RetryPolicy,
        fault: FaultPolicy?, mirrors: [MirrorPolicy], cors: RouteCORS?
    ) {
        self.name = name
        self.virtualService = virtualService
        self.index = index
        self.matches = matches
        self.action = action
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.timeout = timeout
        self.retry = retry
        self.fault = fault
        self.mirrors = mirrors
        self.cors = cors
    }

    /// A copy with a different match list (used to split a catch-all entry off a rule, §2.8).
    func with(matches: [RouteMatcher]) -> Route {
        Route(
            name: self.name, virtualService: self.virtualService, index: self.index, matches: matches,
            action: self.action, requestHeaders: self.requestHeaders, responseHeaders: self.responseHeaders,
            timeout: self.timeout, retry: self.retry, fault: self.fault, mirrors: self.mirrors, cors: self.cors)
    }

    /// Catch-all in Envoy's sense: no entries, or a single entry that matches everything.
    var isCatchAll: Bool { self.matches.isEmpty || self.matches.contains { $0.isCatchAll } }

    /// First entry that matches, as a result; nil when none does.
    func match(_ request: some RoutableRequest) -> RouteMatchResult? {
        if self.matches.isEmpty { return RouteMatchResult(route: self, matchIndex: nil) }
        for (i, m) in self.matches.enumerated() where m.matches(request) {
            return RouteMatchResult(route: self, matchIndex: i)
        }
        return nil
    }
}

/// The route hit by a request and which match entry selected it.
public struct RouteMatchResult: Sendable {
    public let route: Route
    /// Index into `route.matches`; nil for a catch-all rule with no entries.
    public let matchIndex: Int?

    public init(route: Route, matchIndex: Int?) {
        self.route = route
        self.matchIndex = matchIndex
    }

    /// The matched entry, if any; rewrites and redirects need its uri kind (§2.5, §2.6).
    public var matcher: RouteMatcher? { self.matchIndex.map { self.route.matches[$0] } }

    /// Istio's Envoy route name: the rule name, plus `.<match name>` when the entry is named.
    public var name: String {
        if let n = self.matcher?.name, !n.isEmpty { return self.route.name + "." + n }
        return self.route.name
    }
}

/// What a matched route does (§2.2: exactly one of route, redirect, directResponse).
public enum RouteAction: Sendable {
    case forward(ForwardAction)
    case redirect(RedirectAction)
    case directResponse(status: Int, body: [UInt8]?)
}

/// Weighted destinations plus the rewrite applied before forwarding (§2.4, §2.6).
public struct ForwardAction: Sendable {
    /// Never empty; weight-0 entries are already dropped.
    public let destinations: [WeightedDestination]
    /// Sum of `destinations[].weight`, always > 0.
    public let totalWeight: Int
    public let rewrite: RewriteAction?

    init(destinations: [WeightedDestination], rewrite: RewriteAction?) {
        self.destinations = destinations
        self.totalWeight = destinations.reduce(0) { $0 + $1.weight }
        self.rewrite = rewrite
    }

    /// Weighted choice made independently per request; `random` is any uniformly distributed number.
    public func pick(_ random: UInt64) -> WeightedDestination {
        WeightedDestination.pick(self.destinations, total: self.totalWeight, random: random)
    }
}

/// One destination with its relative weight and destination-level header operations (§2.4).
public struct WeightedDestination: Sendable {
    public let cluster: ClusterKey
    public let weight: Int
    public let requestHeaders: HeaderMutation
    public let responseHeaders: HeaderMutation
    /// Authority rewrite from destination-level headers; used only if the route has none.
    public let authority: String?
}

/// Retry policy after Istio defaults are applied (§2.7.1).
public struct RetryPolicy: Sendable {
    /// Retries, not tries: max requests = 1 + attempts. 0 disables retries.
    public let attempts: Int
    public let perTryTimeout: Duration?
    public let retryOnConnectFailure: Bool
    public let retryOnReset: Bool
    public let retryOn5xx: Bool
    public let retryOnGatewayError: Bool
    public let retryOnRefusedStream: Bool
    /// Real upstream statuses to retry (`retriable-status-codes` plus bare integers in `retryOn`).
    public let retriableStatusCodes: Set<Int>
    /// gRPC conditions (`cancelled`, `unavailable`, ...), for gRPC-aware upstream handling.
    public let retryOnGRPC: Set<String>
    public let retryOnRetriable4xx: Bool

    /// Istio's built-in default when `retries` is absent: 2 attempts on
    /// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with no codes.
    public static let istioDefault = RetryPolicy.parse(attempts: 2, perTryTimeout: nil, retryOn: nil)

    public static let disabled = RetryPolicy.parse(attempts: 0, perTryTimeout: nil, retryOn: "")

    /// Parses an Envoy `retryOn` list; nil means Istio's default list. Unknown tokens are ignored.
    static func parse(attempts: Int, perTryTimeout: Duration?, retryOn: String?) -> RetryPolicy {
        let list = retryOn ?? "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        var tokens = Set<String>()
        var codes = Set<Int>()
        for raw in list.split(separator: ",") {
            let t = raw.trimmingASCIIWhitespace()
            if let code = Int(t) { codes.insert(code) } else if !t.isEmpty { tokens.insert(String(t)) }
        }
        let grpc: Set<String> = ["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"]
        return RetryPolicy(
            attempts: attempts, perTryTimeout: perTryTimeout,
            retryOnConnectFailure: tokens.contains("connect-failure"),
            retryOnReset: tokens.contains("reset") || tokens.contains("reset-before-request"),
            retryOn5xx: tokens.contains("5xx"), retryOnGatewayError: tokens.contains("gateway-error"),
            retryOnRefusedStream: tokens.contains("refused-stream"), retriableStatusCodes: codes,
            retryOnGRPC: tokens.intersection(grpc), retryOnRetriable4xx: tokens.contains("retriable-4xx"))
    }
}

/// Fault injection with percentages stored per million (0.0001 % resolution, §2.7.3).
public struct FaultPolicy: Sendable {
    public let delay: Duration?
    public let delayPerMillion: Int
    public let abortStatus: Int?
    public let abortPerMillion: Int
    /// gRPC status name for gRPC aborts (`UNAVAILABLE`), when given instead of an HTTP status.
    public let abortGRPCStatus: String?
}

/// A fire-and-forget copy of the request to another cluster (§2.2 `mirror`/`mirrors`).
public struct MirrorPolicy: Sendable {
    public let cluster: ClusterKey
    /// Share of requests mirrored, per million; absent percentage = 100 %.
    public let perMillion: Int
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
