import NIOCore
import PortcullisTLS

/// Why an upstream exchange failed, classified the way Envoy's response flags need it.
enum UpstreamFailure: Error, Sendable {
    /// TCP connect failed or timed out (flag UF; retriable as `connect-failure`).
    case connectFailed(String)
    /// The connection closed or broke before a complete response head (flag UC).
    case resetBeforeHeaders
    /// The connection closed or broke after the head, mid-body (flag UC, downstream is reset).
    case resetAfterHeaders
    /// HTTP/2 REFUSED_STREAM or a stream above a GOAWAY's last id: never processed (flag UC; retriable as
    /// `refused-stream`).
    case refused
    /// The upstream sent bytes that are not a valid HTTP/1.1 response (flag UPE, 502).
    case protocolError(String)
}

/// What an upstream connection reports to the request currently using it.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamHead(_ head: HTTP1ResponseHead)
    /// A 1xx other than 101 (e.g. `100 Continue`).
    func upstreamInformational(_ head: HTTP1ResponseHead)
    func upstreamBody(_ body: ByteBuffer)
    func upstreamEnd(_ trailers: HTTPHeaderList?)
    func upstreamFailed(_ failure: UpstreamFailure)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ writable: Bool)
    /// Raw bytes after a `101 Switching Protocols`.
    func upstreamTunnelData(_ data: ByteBuffer)
}

/// One pooled HTTP/1.1 connection to an upstream endpoint: parses responses and hands them to the current
/// request. It knows nothing of routing; the pool decides reuse.
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// `ip:port` of the endpoint; the pool's key.
    let endpointKey: String
    let clusterName: String
    private var context: ChannelHandlerContext?
    private var parser = HTTP1ResponseParser()
    private weak var receiver: UpstreamResponseReceiver?
    private var tunneling = false
    /// A final response head arrived for the current request.
    private var sawHead = false
    /// Requests started on this connection, for `maxRequestsPerConnection`.
    private(set) var requestCount = 0
    /// Whether a response is in progress (the connection is checked out).
    private(set) var inUse = false
    /// When an idle connection expires (set by the pool on release).
    var idleDeadline = NIODeadline.distantFuture
    weak var pool: UpstreamPool?
    /// Completed when a TLS upstream finished its handshake (nil for plaintext).
    var handshake: EventLoopPromise<Void>?
    /// The current request's body is chunk-framed.
    var chunked = false

    init(endpointKey: String, clusterName: String) {
        self.endpointKey = endpointKey
        self.clusterName = clusterName
    }

    var isActive: Bool { self.context?.channel.isActive ?? false }
    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var localAddress: String? { self.context?.channel.localAddress.map(Self.format) }
    var remoteAddress: String? { self.context?.channel.remoteAddress.map(Self.format) }

    static func format(_ address: SocketAddress) -> String {
        if let ip = address.ipAddress, let port = address.port { return "\(ip):\(port)" }
        return address.description
    }

    /// Checks the connection out for one request.
    func begin(method: String, receiver: UpstreamResponseReceiver) {
        self.parser.expectResponse(toMethod: method)
        self.receiver = receiver
        self.sawHead = false
        self.inUse = true
        self.requestCount += 1
    }

    /// Detaches the current request (its response is complete or it gave up).
    func finish() {
        self.receiver = nil
        self.inUse = false
    }

    func write(_ buffer: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func setAutoRead(_ on: Bool) {
        guard let channel = self.context?.channel else { return }
        _ = try? channel.syncOptions?.setOption(.autoRead, value: on)
    }

    func close() {
        self.receiver = nil
        self.context?.close(promise: nil)
    }
}

extension UpstreamConnection {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        if self.tunneling {
            self.receiver?.upstreamTunnelData(buffer)
            return
        }
        guard self.receiver != nil else {
            // Bytes while idle: the upstream is not speaking HTTP/1.1 request/response; never reuse it.
            context.close(promise: nil)
            return
        }
        do {
            while let receiver = self.receiver, !self.tunneling,
                let event = try self.parser.next(&buffer)
            {
                switch event {
                case .head(let head):
                    if head.status == 101 {
                        self.tunneling = true
                        self.sawHead = true
                        receiver.upstreamHead(head)
                        if buffer.readableBytes > 0 { receiver.upstreamTunnelData(buffer) }
                        return
                    }
                    if head.status >= 100 && head.status < 200 {
                        receiver.upstreamInformational(head)
                        continue
                    }
                    self.sawHead = true
                    receiver.upstreamHead(head)
                case .body(let body):
                    receiver.upstreamBody(body)
                case .end(let trailers):
                    receiver.upstreamEnd(trailers)
                }
            }
        } catch {
            let receiver = self.receiver
            self.receiver = nil
            context.close(promise: nil)
            receiver?.upstreamFailed(.protocolError(error.reason))
            return
        }
        if self.receiver == nil && buffer.readableBytes > 0 {
            // Extra bytes after a complete response: the connection is out of sync, so it must not be reused.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.receiver?.upstreamReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted, let handshake = self.handshake {
            self.handshake = nil
            handshake.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.receiver?.upstreamWritabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let handshake = self.handshake {
            self.handshake = nil
            handshake.fail(TCPProxyError("connection closed during the TLS handshake"))
        }
        self.pool?.connectionClosed(self)
        guard let receiver = self.receiver else { return }
        self.receiver = nil
        if self.tunneling {
            receiver.upstreamEnd(nil)
            return
        }
        do {
            if let event = try self.parser.connectionClosed(), case .end(let trailers) = event {
                receiver.upstreamEnd(trailers)
                return
            }
            receiver.upstreamFailed(self.sawHead ? .resetAfterHeaders : .resetBeforeHeaders)
        } catch {
            receiver.upstreamFailed(self.sawHead ? .resetAfterHeaders : .resetBeforeHeaders)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let handshake = self.handshake {
            // A TLS failure (verification, protocol) is a connect failure with a reason (flag UF).
            self.handshake = nil
            handshake.fail(error)
        }
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}
