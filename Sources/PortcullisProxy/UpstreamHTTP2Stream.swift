import NIOCore
import PortcullisHTTP2

/// One request's stream on an `UpstreamHTTP2Connection`, as the exchange sees it. Response DATA is handed back
/// to the window only while the exchange can pass it on, so a slow client slows the upstream through HTTP/2 flow
/// control; request DATA beyond the server's window waits in the session and pauses the client.
final class UpstreamHTTP2Stream: UpstreamTransport {
    enum Failure {
        /// REFUSED_STREAM, or a stream above a GOAWAY's last id: never processed, safe to retry.
        case refused
        /// Reset or connection lost.
        case reset
    }

    /// Response bytes queued in the session above which the exchange pauses its client.
    static let bufferedLimit = 64 * 1024

    private let connection: UpstreamHTTP2Connection
    private(set) weak var receiver: UpstreamResponseReceiver?
    private var streamID: Int32?
    private var sawHead = false
    private var done = false
    private var requestEnded = false
    private var responseEnded = false
    private var paused = false
    private var unconsumed = 0
    private var interimHeads = 0

    init(connection: UpstreamHTTP2Connection) {
        self.connection = connection
    }

    var isWritable: Bool {
        guard let id = self.streamID else { return self.connection.isWritable }
        return self.connection.isWritable && self.connection.session.bufferedBytes(streamID: id) < Self.bufferedLimit
    }
    var localAddress: String? { self.connection.localAddress }
    var remoteAddress: String? { self.connection.remoteAddress }
    var connectionIsReady: Bool { self.connection.isReady && self.connection.isActive }
    var connectionReady: EventLoopFuture<Void> { self.connection.ready.futureResult }
    var canResendOnEarlyClose: Bool { false }
    var answersExpectContinue: Bool { true }
    var requestsServed: Int { 0 }

    func begin(method: String, receiver: UpstreamResponseReceiver) {
        self.receiver = receiver
    }

    func sendHead(_ request: UpstreamRequest, endStream: Bool, allocator: ByteBufferAllocator) {
        guard !self.done else { return }
        let fields = UpstreamHTTP2Fields.request(request)
        guard let id = self.connection.start(self, fields: fields, endStream: endStream) else {
            // The session will not open a stream (GOAWAY or the server's limit): the request never left, so it
            // is reported as refused, after the caller finished attaching.
            self.done = true
            let bound = NIOLoopBound(self, eventLoop: self.connection.eventLoop)
            self.connection.eventLoop.execute { bound.value.reportFailure(.refused) }
            return
        }
        self.streamID = id
        self.requestEnded = endStream
    }

    func sendBody(_ body: ByteBuffer, allocator: ByteBufferAllocator) {
        guard let id = self.streamID, !self.done, !self.requestEnded, body.readableBytes > 0 else { return }
        self.connection.session.sendData(streamID: id, body, endStream: false)
    }

    func sendEnd(trailers: HTTPHeaderList?, allocator: ByteBufferAllocator) {
        guard let id = self.streamID, !self.done, !self.requestEnded else { return }
        self.requestEnded = true
        if let trailers, trailers.count > 0 {
            self.connection.session.sendTrailers(streamID: id, DownstreamHTTP2Stream.trailerFields(trailers))
        } else {
            self.connection.session.sendData(streamID: id, ByteBuffer(), endStream: true)
        }
    }

    func sendTunnel(_ data: ByteBuffer) {}

    func flush() {
        self.connection.scheduleFlush()
    }

    func setAutoRead(_ on: Bool) {
        self.paused = !on
        guard on, self.unconsumed > 0, let id = self.streamID, !self.done else { return }
        let bytes = self.unconsumed
        self.unconsumed = 0
        self.connection.session.consumed(streamID: id, bytes: bytes)
        self.connection.flushOutput()
    }

    func complete(reusable: Bool, idleTimeout: TimeAmount) {
        // Answered before the request finished: stop the upload with NO_ERROR (RFC 9113 §8.1).
        self.release(resetCode: self.requestEnded && self.responseEnded ? nil : HTTP2ErrorCode.noError)
    }

    func abort() {
        self.release(resetCode: HTTP2ErrorCode.cancel)
    }

    /// Hands the stream back: a reservation that never started, or a stream, reset with `resetCode` if given.
    private func release(resetCode: UInt32?) {
        guard !self.done else { return }
        self.done = true
        self.receiver = nil
        guard let id = self.streamID else {
            self.connection.unreserve()
            return
        }
        if let resetCode {
            self.connection.session.resetStream(streamID: id, errorCode: resetCode)
            self.connection.flushOutput()
        }
        self.connection.streamFinished(id)
    }

    // MARK: Events from the connection

    func responseHead(_ fields: [HTTP2Header], endStream: Bool) {
        guard !self.done, let receiver = self.receiver else { return }
        self.sawHead = true
        receiver.upstreamHead(UpstreamHTTP2Fields.responseHead(fields, endStream: endStream))
        if endStream { self.ended(trailers: nil) }
    }

    /// A 1xx head: the exchange relays a `100` the client asked for (Expect: 100-continue) and drops the rest.
    /// More than an HTTP/1.1 upstream may send (16) is a storm (HARDENING §B8.6): the stream is reset and the
    /// client gets 502, as for an HTTP/1.1 upstream.
    func informationalHead(_ fields: [HTTP2Header]) {
        guard !self.done, !self.sawHead, let receiver = self.receiver else { return }
        self.interimHeads += 1
        guard self.interimHeads <= HTTP1ResponseParser.maxInterimResponses else {
            self.done = true
            self.receiver = nil
            if let id = self.streamID {
                self.connection.session.resetStream(streamID: id, errorCode: HTTP2ErrorCode.protocolError)
                self.connection.flushOutput()
                self.connection.streamFinished(id)
            }
            receiver.upstreamFailed(.protocolError("too many interim responses"))
            return
        }
        receiver.upstreamInformational(UpstreamHTTP2Fields.responseHead(fields, endStream: false))
    }

    func responseData(_ data: ByteBuffer, endStream: Bool) {
        let bytes = data.readableBytes
        guard !self.done, let id = self.streamID, let receiver = self.receiver else {
            if let id = self.streamID { self.connection.session.consumed(streamID: id, bytes: bytes) }
            return
        }
        if bytes > 0 {
            receiver.upstreamBody(data)
            if self.paused {
                self.unconsumed += bytes
            } else if !self.done {
                self.connection.session.consumed(streamID: id, bytes: bytes)
            }
        }
        if endStream { self.ended(trailers: nil) }
    }

    func responseTrailers(_ fields: [HTTP2Header]) {
        self.ended(trailers: UpstreamHTTP2Fields.headerList(fields))
    }

    private func ended(trailers: HTTPHeaderList?) {
        guard !self.done, let receiver = self.receiver else { return }
        self.responseEnded = true
        receiver.upstreamEnd(trailers)
    }

    /// The stream was reset or the connection lost (the connection already forgot the stream).
    func failed(_ failure: Failure) {
        guard !self.done else { return }
        self.done = true
        self.reportFailure(failure)
    }

    private func reportFailure(_ failure: Failure) {
        guard let receiver = self.receiver else { return }
        self.receiver = nil
        switch failure {
        case .refused: receiver.upstreamFailed(.refused)
        case .reset: receiver.upstreamFailed(self.sawHead ? .resetAfterHeaders : .resetBeforeHeaders)
        }
    }
}

@available(*, unavailable)
extension UpstreamHTTP2Stream: Sendable {}
