/// A parsed HTTP/1.x request head (RFC 9112 §3 and §5) with the framing and connection facts the proxy needs.
public struct HTTP1RequestHead: Sendable {
    /// The form of the request-target (RFC 9112 §3.2).
    public enum TargetForm: Sendable, Equatable {
        /// `/path?query` (§3.2.1).
        case origin
        /// `http://authority/path` (§3.2.2); `scheme` is lower-cased, the authority is as received.
        case absolute(scheme: String, authority: String)
        /// `host:port`, only for CONNECT (§3.2.3).
        case authority
        /// `*`, only for OPTIONS (§3.2.4).
        case asterisk
    }

    public var method: String
    /// The request-target exactly as received.
    public var target: String
    /// HTTP/1.<minorVersion>: 0 or 1.
    public var minorVersion: Int
    public var headers: HTTPHeaderList
    /// Requests are never `.untilClose` (RFC 9112 §6.3 rule 6).
    public var framing: HTTP1BodyFraming
    /// From the version and the `Connection` tokens (RFC 9112 §9.3).
    public var keepAlive: Bool
    /// `Connection` contains `upgrade` and an `Upgrade` field is present (RFC 9110 §7.8).
    public var isUpgrade: Bool
    /// `Expect: 100-continue` on HTTP/1.1 (RFC 9110 §10.1.1).
    public var expectContinue: Bool
    /// The single Host value; for absolute-form the target's authority, which replaces Host (RFC 9112 §3.2.2).
    public var host: String?
    public var targetForm: TargetForm
    /// `te` lists `trailers` (passed on to HTTP/2 upstreams only).
    public var acceptsTrailers = false
    /// `content-type: application/grpc...`.
    public var isGRPC = false

    public init(
        method: String, target: String, minorVersion: Int = 1, headers: HTTPHeaderList = HTTPHeaderList(),
        framing: HTTP1BodyFraming = .none, keepAlive: Bool = true, isUpgrade: Bool = false,
        expectContinue: Bool = false, host: String? = nil, targetForm: TargetForm = .origin
    ) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.isUpgrade = isUpgrade
        self.expectContinue = expectContinue
        self.host = host
        self.targetForm = targetForm
    }
}

/// A parsed HTTP/1.x response head (RFC 9112 §4) with its body framing (RFC 9112 §6.3).
public struct HTTP1ResponseHead: Sendable {
    public var status: Int
    public var reason: String
    public var minorVersion: Int
    public var headers: HTTPHeaderList
    public var framing: HTTP1BodyFraming
    /// False for HTTP/1.0 without `keep-alive`, for `Connection: close`, and for `.untilClose` bodies.
    public var keepAlive: Bool

    public init(
        status: Int, reason: String = "", minorVersion: Int = 1, headers: HTTPHeaderList = HTTPHeaderList(),
        framing: HTTP1BodyFraming = .none, keepAlive: Bool = true
    ) {
        self.status = status
        self.reason = reason
        self.minorVersion = minorVersion
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
    }
}
