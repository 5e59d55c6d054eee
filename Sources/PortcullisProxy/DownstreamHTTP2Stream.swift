import NIOCore
import PortcullisHTTP2
import PortcullisTLS

/// One HTTP/2 request stream as the `ProxyExchange` sees it: response parts go through the connection's
/// `HTTP2ServerSession`, and request DATA is acknowledged (WINDOW_UPDATE) only while the exchange can pass it on,
/// so a slow upstream slows the client through flow control.
final class DownstreamHTTP2Stream: DownstreamStream {
    unowned let connection: DownstreamHTTP2Handler
    let streamID: Int32
    var exchange: ProxyExchange?
    /// The client ended its request (END_STREAM or trailers).
    var requestEnded = false
    /// Request DATA received but not yet handed back to the window (while paused).
    private var unconsumed = 0
    private var paused = false
    /// Response bytes queued in the session above which the exchange pauses its upstream.
    static let bufferedLimit = 64 * 1024

    init(connection: DownstreamHTTP2Handler, streamID: Int32) {
        self.connection = connection
        self.streamID = streamID
    }

    var worker: Worker { self.connection.worker }
    var allocator: ByteBufferAllocator { self.connection.allocator }
    var isWritable: Bool {
        self.connection.isWritable && self.connection.session.bufferedBytes(streamID: self.streamID)
            < Self.bufferedLimit
    }
    var scheme: String { self.connection.scheme }
    var listenerPort: Int { self.connection.listenerPort }
    var serverKey: TLSMaterial.ServerKey? { self.connection.serverKey }
    var peerTLS: TLSHandshakeCompleted? { self.connection.peerTLS }
    var remoteIP: String { self.connection.remoteIP }
    var remoteAddress: String { self.connection.remoteAddress }
    var localAddress: String { self.connection.localAddress }

    /// HTTP/2 never closes the connection because of one stream's response.
    func mustCloseAfterResponse(requestKeepAlive: Bool) -> Bool { false }

    /// A response head not yet framed: held until the first body byte, the end or a flush, so a response that
    /// ends right after its head (gRPC "Trailers-Only") goes out as one HEADERS frame with END_STREAM.
    private var pendingHead: [HTTP2Header]?

    func writeResponseHead(status: Int, reason: String?, headers: HTTPHeaderList) {
        self.pendingHead = Self.responseFields(status: status, headers)
    }

    private func sendPendingHead(endStream: Bool) {
        guard let head = self.pendingHead else { return }
        self.pendingHead = nil
        self.connection.session.sendResponse(streamID: self.streamID, headers: head, endStream: endStream)
    }

    func writeContinue() {
        self.connection.session.sendResponse(
            streamID: self.streamID, headers: [HTTP2Header(name: ":status", value: "100")], endStream: false)
        self.flush()
    }

    func writeResponseBody(_ body: ByteBuffer, chunked: Bool) {
        guard body.readableBytes > 0 else { return }
        self.sendPendingHead(endStream: false)
        self.connection.session.sendData(streamID: self.streamID, body, endStream: false)
    }

    func writeResponseEnd(trailers: HTTPHeaderList?, chunked: Bool) {
        let hasTrailers = (trailers?.count ?? 0) > 0
        if self.pendingHead != nil {
            self.sendPendingHead(endStream: !hasTrailers)
            if !hasTrailers { return }
        }
        if let trailers, hasTrailers {
            self.connection.session.sendTrailers(streamID: self.streamID, Self.trailerFields(trailers))
        } else {
            self.connection.session.sendData(streamID: self.streamID, ByteBuffer(), endStream: true)
        }
    }

    func writeLocalReply(status: Int, headers: HTTPHeaderList, body: [UInt8]?, includeBody: Bool) {
        let fields = Self.responseFields(status: status, headers)
        guard includeBody, let body, !body.isEmpty else {
            self.connection.session.sendResponse(streamID: self.streamID, headers: fields, endStream: true)
            return
        }
        self.connection.session.sendResponse(streamID: self.streamID, headers: fields, endStream: false)
        var buffer = self.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        self.connection.session.sendData(streamID: self.streamID, buffer, endStream: true)
    }

    func writeTunnelData(_ data: ByteBuffer) {}

    func flush() {
        self.sendPendingHead(endStream: false)
        self.connection.scheduleFlush()
    }

    func setAutoRead(_ on: Bool) {
        self.paused = !on
        if on && self.unconsumed > 0 {
            let bytes = self.unconsumed
            self.unconsumed = 0
            self.connection.session.consumed(streamID: self.streamID, bytes: bytes)
            self.connection.flushOutput()
        }
    }

    func exchangeFinished(_ finished: ProxyExchange, keepAlive: Bool) {
        guard self.exchange === finished else { return }
        self.exchange = nil
        self.connection.streamFinished(self)
    }

    func startTunnel() {}

    func abort() {
        self.pendingHead = nil
        self.exchange = nil
        self.connection.session.resetStream(streamID: self.streamID, errorCode: HTTP2ErrorCode.internalError)
        self.connection.streamFinished(self)
        self.connection.flushOutput()
    }

    /// Request DATA for this stream: to the exchange, then back to the window unless the exchange paused us.
    func received(_ data: ByteBuffer) {
        let bytes = data.readableBytes
        guard bytes > 0 else { return }
        guard let exchange = self.exchange else {
            // Already answered: the rest of the body is read and dropped.
            self.connection.session.consumed(streamID: self.streamID, bytes: bytes)
            return
        }
        exchange.requestBody(data)
        if self.paused {
            self.unconsumed += bytes
        } else {
            self.connection.session.consumed(streamID: self.streamID, bytes: bytes)
        }
    }

    /// Connection-specific fields never go out on HTTP/2 (RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ name: String) -> Bool {
        switch name.utf8.count {
        case 7: return name == "upgrade"
        case 10: return name == "connection" || name == "keep-alive"
        case 16: return name == "proxy-connection"
        case 17: return name == "transfer-encoding"
        default: return false
        }
    }

    static func responseFields(status: Int, _ headers: HTTPHeaderList) -> [HTTP2Header] {
        var fields = [HTTP2Header(name: ":status", value: String(status))]
        fields.reserveCapacity(headers.count + 1)
        for index in 0..<headers.count {
            let (name, value) = headers[index]
            let lower = name.lowercased()
            if Self.isConnectionSpecific(lower) { continue }
            fields.append(HTTP2Header(name: lower, value: value))
        }
        return fields
    }

    static func trailerFields(_ trailers: HTTPHeaderList) -> [HTTP2Header] {
        var fields: [HTTP2Header] = []
        for index in 0..<trailers.count {
            let (name, value) = trailers[index]
            let lower = name.lowercased()
            if Self.isConnectionSpecific(lower) || lower == "content-length" { continue }
            fields.append(HTTP2Header(name: lower, value: value))
        }
        return fields
    }
}

@available(*, unavailable)
extension DownstreamHTTP2Stream: Sendable {}
