import PortcullisModel

/// One precompiled `HTTPMatchRequest` entry (ISTIO-SEMANTICS §2.3): every present field must match (AND).
///
/// Config-time selectors (`port`, `gateways`, `sourceLabels`, `sourceNamespace`) are already resolved by the
/// compiler and do not appear here.
public struct RouteMatcher: Sendable {
    /// The entry's `name`, appended to the route name in logs and stats.
    public let name: String?
    /// Path matcher; nil matches every path (rewrite then treats it like prefix `/`, §2.6).
    public let uri: StringMatcher?
    public let scheme: StringMatcher?
    public let method: StringMatcher?
    /// Matched against the raw authority, port included, case-sensitively (§8.1).
    public let authority: StringMatcher?
    /// Lower-case header name → matcher; a missing header fails every matcher (even `exact: ""`).
    public let headers: [(name: String, matcher: StringMatcher)]
    /// The entry matches only when none of these match; a missing header counts as `""`.
    public let withoutHeaders: [(name: String, matcher: StringMatcher)]
    public let queryParams: [(name: String, matcher: StringMatcher)]

    init(
        name: String?, uri: StringMatcher?, scheme: StringMatcher?, method: StringMatcher?,
        authority: StringMatcher?, headers: [(name: String, matcher: StringMatcher)],
        withoutHeaders: [(name: String, matcher: StringMatcher)], queryParams: [(name: String, matcher: StringMatcher)]
    ) {
        self.name = name
        self.uri = uri
        self.scheme = scheme
        self.method = method
        self.authority = authority
        self.headers = headers
        self.withoutHeaders = withoutHeaders
        self.queryParams = queryParams
    }

    /// True when the entry matches every request: Envoy's `IsCatchAllRoute` (path `/`, no header or query
    /// matchers; method, scheme and authority are header matchers in Envoy). Used to move catch-alls last (§2.8).
    var isCatchAll: Bool {
        (self.uri?.matchesEverything ?? true) && self.scheme == nil && self.method == nil && self.authority == nil
            && self.headers.isEmpty && self.withoutHeaders.isEmpty && self.queryParams.isEmpty
    }

    /// Evaluates the entry; cheapest checks first, regexes last within each field.
    public func matches(_ request: some RoutableRequest) -> Bool {
        if let m = self.method, !m.matches(request.method) { return false }
        if let m = self.uri, !m.matches(request.path) { return false }
        if let m = self.scheme, !m.matches(request.scheme) { return false }
        if let m = self.authority, !m.matches(request.authority) { return false }
        for h in self.headers {
            guard let value = request.headerValue(h.name), h.matcher.matches(value) else { return false }
        }
        for h in self.withoutHeaders {
            let value = request.headerValue(h.name)
            if h.matcher.kind == .present {
                if value != nil { return false }
            } else if h.matcher.matches(value ?? "") {
                return false
            }
        }
        if !self.queryParams.isEmpty {
            for q in self.queryParams {
                guard let value = Self.queryValue(request.query, name: q.name), q.matcher.matches(value) else {
                    return false
                }
            }
        }
        return true
    }

    /// The raw value of the first `name` parameter (`?key` and `?key=` both give `""`); nil when absent.
    static func queryValue(_ query: Substring?, name: String) -> Substring? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let eq = pair.firstIndex(of: "=") {
                if pair[..<eq].utf8.elementsEqual(name.utf8) { return pair[pair.index(after: eq)...] }
            } else if pair.utf8.elementsEqual(name.utf8) {
                return pair[pair.endIndex...]
            }
        }
        return nil
    }
}
