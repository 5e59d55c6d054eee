import NIOCore

/// A request as it goes upstream, before it is framed for a protocol (ARCHITECTURE "Codec": the proxy decides
/// the contents, each upstream transport serializes them). Built once per exchange and reused by retries.
struct UpstreamRequest {
    var method: String
    /// Origin-form target after rewrites, with the query.
    var path: String
    /// The Host / `:authority` after rewrites.
    var authority: String
    /// `http` or `https` toward the upstream (`:scheme` on HTTP/2).
    var scheme: String
    /// Header fields in order; the first is `host` (HTTP/1 writes it first, HTTP/2 turns it into `:authority`).
    var headers: HTTPHeaderList
    /// HTTP/1 body framing: `transfer-encoding: chunked` is in `headers` and body parts need chunk framing.
    var chunked: Bool
    /// The client announced it accepts trailers (`te: trailers`); passed on to HTTP/2 upstreams only
    /// (HARDENING §B2 row 5).
    var acceptsTrailers: Bool
}

/// One request's use of an upstream: a pooled HTTP/1.1 connection or one stream of a multiplexed HTTP/2
/// connection. The exchange talks to either through this, so routing, retries, timeouts and metrics do not
/// depend on the upstream protocol.
protocol UpstreamTransport: AnyObject {
    /// Whether more request body may be written now (else the exchange pauses the client).
    var isWritable: Bool { get }
    /// Local `ip:port` of the upstream connection, for the access log.
    var localAddress: String? { get }
    /// The upstream's `ip:port` (for a DNS endpoint, the resolved address the access log shows).
    var remoteAddress: String? { get }
    /// Whether a response to a request sent now could be the reply to an earlier request on a kept-alive
    /// HTTP/1.1 connection that the server closed meanwhile (a safe resend case); false for HTTP/2 streams.
    var canResendOnEarlyClose: Bool { get }
    /// Whether `Expect: 100-continue` is answered by the gateway (HTTP/2: the upstream never sees it) rather than
    /// relayed from the upstream.
    var answersExpectContinue: Bool { get }
    /// Requests started on the underlying HTTP/1.1 connection (0 for HTTP/2), for `maxRequestsPerConnection`.
    var requestsServed: Int { get }

    /// Takes the transport for one request; responses go to `receiver` (held weakly).
    func begin(method: String, receiver: UpstreamResponseReceiver)
    /// Sends the request head; with `endStream` the request has no body (and no trailers).
    func sendHead(_ request: UpstreamRequest, endStream: Bool, allocator: ByteBufferAllocator)
    func sendBody(_ body: ByteBuffer, allocator: ByteBufferAllocator)
    /// Ends the request body, with trailers where the protocol and framing carry them.
    func sendEnd(trailers: HTTPHeaderList?, allocator: ByteBufferAllocator)
    /// Raw bytes after a `101` (HTTP/1.1 only).
    func sendTunnel(_ data: ByteBuffer)
    func flush()
    /// Backpressure on the response: stop (false) or resume (true) taking response bytes.
    func setAutoRead(_ on: Bool)
    /// The exchange ended normally; `reusable` says whether an HTTP/1.1 connection may serve another request.
    func complete(reusable: Bool, idleTimeout: TimeAmount)
    /// The exchange gave up: the connection is closed (HTTP/1.1) or the stream reset (HTTP/2).
    func abort()
}
