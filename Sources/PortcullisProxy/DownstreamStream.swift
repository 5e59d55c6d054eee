import NIOCore
import PortcullisTLS

/// The request head a `ProxyExchange` reads, whatever the downstream protocol (ARCHITECTURE "Codec": both codecs
/// hand the proxy the same head). HTTP/1 fills it from the parsed head, HTTP/2 from the pseudo-headers.
struct DownstreamRequestHead {
    var method: String
    /// The request-target as received (HTTP/2: `:path`).
    var target: String
    var targetForm: HTTP1RequestHead.TargetForm
    /// Regular fields only (no pseudo-headers); HTTP/2 cookie crumbs are already joined.
    var headers: HTTPHeaderList
    /// How the request body is framed toward an HTTP/1.1 upstream.
    var framing: HTTP1BodyFraming
    /// The client allows the connection to stay open after this exchange.
    var keepAlive: Bool
    var isUpgrade: Bool
    var expectContinue: Bool
    /// Host (HTTP/1) or `:authority` (HTTP/2).
    var host: String?
    /// An HTTP/1.0 request (Envoy answers 426).
    var isHTTP10: Bool
    /// `%PROTOCOL%` of the access log.
    var protocolName: String
    /// The client accepts trailers (`te: trailers`), which HTTP/2 upstreams are told (gRPC needs it).
    var acceptsTrailers: Bool
    /// A gRPC request (`content-type: application/grpc...`): local replies become gRPC errors.
    var isGRPC: Bool

    init(http1 head: HTTP1RequestHead) {
        self.method = head.method
        self.target = head.target
        self.targetForm = head.targetForm
        self.headers = head.headers
        self.framing = head.framing
        self.keepAlive = head.keepAlive
        self.isUpgrade = head.isUpgrade
        self.expectContinue = head.expectContinue
        self.host = head.host
        self.isHTTP10 = head.minorVersion == 0
        self.protocolName = head.minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1"
        self.acceptsTrailers = head.acceptsTrailers
        self.isGRPC = head.isGRPC
    }

    /// Whether a `te` value lists `trailers`.
    static func hasTrailersToken(_ value: String) -> Bool {
        value.split(separator: ",").contains { part in
            let token = part.split(separator: ";").first ?? ""
            return token.filter { $0 != " " && $0 != "\t" }.lowercased() == "trailers"
        }
    }

    init(
        method: String, target: String, headers: HTTPHeaderList, framing: HTTP1BodyFraming, host: String?,
        expectContinue: Bool, protocolName: String, acceptsTrailers: Bool = false, isGRPC: Bool = false
    ) {
        self.method = method
        self.target = target
        self.targetForm = .origin
        self.headers = headers
        self.framing = framing
        self.keepAlive = true
        self.isUpgrade = false
        self.expectContinue = expectContinue
        self.host = host
        self.isHTTP10 = false
        self.protocolName = protocolName
        self.acceptsTrailers = acceptsTrailers
        self.isGRPC = isGRPC
    }
}

/// What a `ProxyExchange` needs from the downstream side of its request: one HTTP/1 connection (one exchange at a
/// time) or one HTTP/2 stream. The exchange decides header contents; the stream serializes them for its protocol.
protocol DownstreamStream: AnyObject {
    var worker: Worker { get }
    var allocator: ByteBufferAllocator { get }
    /// Whether the downstream can take more response bytes now (else the exchange pauses the upstream).
    var isWritable: Bool { get }
    var scheme: String { get }
    var listenerPort: Int { get }
    /// The terminating Gateway server whose route table applies (HTTPS); nil = the listener's shared table.
    var serverKey: TLSMaterial.ServerKey? { get }
    var peerTLS: TLSHandshakeCompleted? { get }
    var remoteIP: String { get }
    var remoteAddress: String { get }
    var localAddress: String { get }

    /// Whether the response now being written must end the connection (HTTP/1 adds `connection: close`).
    func mustCloseAfterResponse(requestKeepAlive: Bool) -> Bool
    /// Writes a final or `101` response head (not flushed).
    func writeResponseHead(status: Int, reason: String?, headers: HTTPHeaderList)
    /// Writes and flushes an interim `100 Continue`.
    func writeContinue()
    /// Writes response body bytes; `chunked` is the HTTP/1 framing the exchange announced in the head.
    func writeResponseBody(_ body: ByteBuffer, chunked: Bool)
    /// Ends the response body, with trailers where the protocol can carry them.
    func writeResponseEnd(trailers: HTTPHeaderList?, chunked: Bool)
    /// Writes a complete locally generated response.
    func writeLocalReply(status: Int, headers: HTTPHeaderList, body: [UInt8]?, includeBody: Bool)
    /// Raw bytes after a `101` (HTTP/1 only).
    func writeTunnelData(_ data: ByteBuffer)
    func flush()
    /// Backpressure: stop (false) or resume (true) taking request body bytes from the client.
    func setAutoRead(_ on: Bool)
    /// The exchange is done with the stream.
    func exchangeFinished(_ finished: ProxyExchange, keepAlive: Bool)
    /// After a `101`: bytes flow raw both ways from now on (HTTP/1 only).
    func startTunnel()
    /// The response started and cannot be completed: reset the stream (or the HTTP/1 connection).
    func abort()
}
