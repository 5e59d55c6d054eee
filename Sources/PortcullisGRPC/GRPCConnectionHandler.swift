import GRPCCore
import NIOCore
import PortcullisHTTP2
import PortcullisTLS

/// The response parts of one call as the transport hands them to grpc-swift.
typealias GRPCResponseContinuation = AsyncThrowingStream<RPCResponsePart<[UInt8]>, any Error>.Continuation

/// One HTTP/2 connection carrying gRPC calls: feeds the server's bytes to an nghttp2 client session, turns
/// each stream's events into response parts (metadata, messages, status) and frames the calls' messages.
/// Used from its channel's event loop only.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Call {
        var streamID: Int32?
        let responses: GRPCResponseContinuation
        var deframer: GRPCMessageDeframer
        var sawHeaders = false
    }

    private let session: HTTP2ClientSession
    private let maxMessageBytes: Int
    private var context: ChannelHandlerContext?
    private var calls: [UInt64: Call] = [:]
    private var callByStream: [Int32: UInt64] = [:]
    private var nextToken: UInt64 = 0
    /// Whether a TLS handshake must finish (with ALPN `h2`) before the connection is usable.
    private var awaitingTLS: Bool
    let ready: EventLoopPromise<Void>
    /// Set once the connection closed or the server sent GOAWAY: no new call may use it.
    private(set) var isUnusable = false

    init(session: HTTP2ClientSession, maxMessageBytes: Int, awaitingTLS: Bool, eventLoop: EventLoop) {
        self.session = session
        self.maxMessageBytes = maxMessageBytes
        self.awaitingTLS = awaitingTLS
        self.ready = eventLoop.makePromise(of: Void.self)
    }

    var remoteAddress: String { self.context?.channel.remoteAddress.map { "\($0)" } ?? "unknown" }
    var localAddress: String { self.context?.channel.localAddress.map { "\($0)" } ?? "unknown" }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive, !self.awaitingTLS { self.becameReady() }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !self.awaitingTLS { self.becameReady() }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted, self.awaitingTLS {
            self.awaitingTLS = false
            guard handshake.negotiatedALPN == "h2" else {
                self.ready.fail(
                    RPCError(code: .unavailable, message: "the server did not negotiate HTTP/2 (ALPN h2) over TLS"))
                context.close(promise: nil)
                return
            }
            self.becameReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameReady() {
        self.ready.succeed(())
        self.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        do {
            for event in try self.session.receive(bytes) { self.handle(event) }
        } catch {
            self.flush()
            self.failAll(RPCError(code: .unavailable, message: "HTTP/2 connection error: \(error)"))
            context.close(promise: nil)
            return
        }
        self.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isUnusable = true
        self.ready.fail(RPCError(code: .unavailable, message: "the connection closed before it was ready"))
        self.failAll(RPCError(code: .unavailable, message: "the connection to the server closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.ready.fail(RPCError(code: .unavailable, message: "connection failed: \(error)"))
        context.close(promise: nil)
    }

    // MARK: Calls

    /// Registers a call whose request head is not sent yet; returns its token.
    func register(_ responses: GRPCResponseContinuation) -> UInt64 {
        self.nextToken += 1
        self.calls[self.nextToken] = Call(responses: responses, deframer: GRPCMessageDeframer(maxMessageBytes: self.maxMessageBytes))
        return self.nextToken
    }

    /// Sends the request head of a registered call.
    func start(_ token: UInt64, headers: [HTTP2Header]) throws {
        guard self.calls[token] != nil else { throw RPCError(code: .cancelled, message: "the call has ended") }
        guard !self.isUnusable else { throw RPCError(code: .unavailable, message: "the connection is closing") }
        let streamID: Int32
        do {
            streamID = try self.session.startRequest(headers: headers, endStream: false)
        } catch {
            throw RPCError(code: .unavailable, message: "cannot start an HTTP/2 stream: \(error)")
        }
        self.calls[token]?.streamID = streamID
        self.callByStream[streamID] = token
        self.flush()
    }

    /// Sends one request message.
    func send(_ token: UInt64, message: [UInt8]) throws {
        guard let streamID = self.calls[token]?.streamID else {
            throw RPCError(code: .cancelled, message: "the call has ended")
        }
        let allocator = self.context?.channel.allocator ?? ByteBufferAllocator()
        self.session.sendData(streamID: streamID, GRPCMessageDeframer.frame(message, allocator: allocator), endStream: false)
        self.flush()
    }

    /// Half-closes the request side.
    func finishRequests(_ token: UInt64) {
        guard let streamID = self.calls[token]?.streamID else { return }
        self.session.sendData(streamID: streamID, ByteBuffer(), endStream: true)
        self.flush()
    }

    /// Ends a call from the client side: resets its stream if still open and finishes its responses.
    func cancel(_ token: UInt64, error: (any Error)?) {
        guard let call = self.calls.removeValue(forKey: token) else { return }
        if let streamID = call.streamID {
            self.callByStream[streamID] = nil
            self.session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel)
        }
        call.responses.finish(throwing: error ?? RPCError(code: .cancelled, message: "the call was cancelled"))
        self.flush()
    }

    /// Sends GOAWAY and closes once no call is left.
    func shutdown() {
        self.isUnusable = true
        self.session.goAway()
        self.flush()
        if self.calls.isEmpty { self.context?.close(promise: nil) }
    }

    // MARK: Events

    private func handle(_ event: HTTP2ClientEvent) {
        switch event {
        case .response(let streamID, let headers, let endStream):
            guard let token = self.callByStream[streamID], let call = self.calls[token] else { return }
            let httpStatus = headers.first(where: { $0.name == ":status" }).flatMap { Int($0.value) } ?? 0
            if httpStatus != 200 {
                self.end(token, status: GRPCHeaders.status(httpStatus: httpStatus), metadata: GRPCHeaders.metadata(headers))
            } else if endStream {
                self.end(token, status: GRPCHeaders.status(headers), metadata: GRPCHeaders.metadata(headers))
            } else if let type = headers.first(where: { $0.name == "content-type" })?.value,
                type.hasPrefix("application/grpc")
            {
                self.calls[token]?.sawHeaders = true
                call.responses.yield(.metadata(GRPCHeaders.metadata(headers)))
            } else {
                self.end(token, status: Status(code: .unknown, message: "the response is not gRPC (content-type)"),
                         metadata: Metadata(), reset: true)
            }
        case .informational:
            break
        case .data(let streamID, let bytes, let endStream):
            let count = bytes.readableBytes
            self.session.consumed(streamID: streamID, bytes: count)
            guard let token = self.callByStream[streamID], var call = self.calls[token] else { return }
            call.deframer.append(bytes)
            do {
                while let message = try call.deframer.next() { call.responses.yield(.message(message)) }
            } catch {
                self.calls[token] = call
                self.cancel(token, error: error)
                return
            }
            self.calls[token] = call
            if endStream {
                self.end(token, status: Status(code: .internalError, message: "the stream ended without trailers"),
                         metadata: Metadata())
            }
        case .trailers(let streamID, let headers):
            guard let token = self.callByStream[streamID] else { return }
            self.end(token, status: GRPCHeaders.status(headers), metadata: GRPCHeaders.metadata(headers))
        case .streamReset(let streamID, let errorCode):
            guard let token = self.callByStream.removeValue(forKey: streamID),
                let call = self.calls.removeValue(forKey: token)
            else { return }
            call.responses.finish(throwing: GRPCHeaders.error(resetCode: errorCode))
        case .goAway(let lastStreamID, let errorCode):
            self.isUnusable = true
            for (streamID, token) in self.callByStream where streamID > lastStreamID {
                self.callByStream[streamID] = nil
                self.calls.removeValue(forKey: token)?.responses.finish(
                    throwing: RPCError(
                        code: .unavailable, message: "the server is going away (GOAWAY, code \(errorCode))"))
            }
        case .windowAvailable:
            break
        }
    }

    private func end(_ token: UInt64, status: Status, metadata: Metadata, reset: Bool = false) {
        guard let call = self.calls.removeValue(forKey: token) else { return }
        if let streamID = call.streamID {
            self.callByStream[streamID] = nil
            if reset { self.session.resetStream(streamID: streamID, errorCode: HTTP2ErrorCode.cancel) }
        }
        call.responses.yield(.status(status, metadata))
        call.responses.finish()
        if self.isUnusable, self.calls.isEmpty { self.context?.close(promise: nil) }
    }

    private func failAll(_ error: RPCError) {
        let calls = self.calls
        self.calls = [:]
        self.callByStream = [:]
        for call in calls.values { call.responses.finish(throwing: error) }
    }

    private func flush() {
        guard let context = self.context, !self.awaitingTLS, context.channel.isActive else { return }
        if let output = self.session.pendingOutput() {
            context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
        }
    }
}

@available(*, unavailable)
extension GRPCConnectionHandler: Sendable {}
