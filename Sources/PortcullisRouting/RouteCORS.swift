/// A route's compiled `corsPolicy` (ISTIO-SEMANTICS §2.7.4). It acts only on requests carrying `Origin`.
public struct RouteCORS: Sendable {
    /// `allowOrigins` (the deprecated `allowOrigin` strings arrive as exact matches).
    public let allowOrigins: [StringMatcher]
    /// Header values ready to send; nil when the list is empty.
    public let allowMethods: String?
    public let allowHeaders: String?
    public let exposeHeaders: String?
    /// Whole seconds for `Access-Control-Max-Age`; nil when unset.
    public let maxAgeSeconds: Int?
    /// `Access-Control-Allow-Credentials: true` when set.
    public let allowCredentials: Bool
    /// `unmatchedPreflights: FORWARD` (default) forwards preflights whose origin is not allowed; `IGNORE` does not.
    public let forwardUnmatchedPreflights: Bool

    /// Whether `origin` is allowed; the response then echoes that origin (never `*`).
    public func allowsOrigin(_ origin: String) -> Bool {
        self.allowOrigins.contains { $0.matches(origin) }
    }
}
