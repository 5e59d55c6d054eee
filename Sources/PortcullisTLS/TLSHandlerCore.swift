import NIOCore

/// The TLS record layer shared by ``TLSServerHandler`` and ``TLSClientHandler``: drives one ``TLSConnection``
/// from the channel's events.
///
/// Inbound ciphertext is fed to OpenSSL and decrypted plaintext is passed on; outbound plaintext is buffered until
/// `flush` and encrypted with one `SSL_write`, so a response becomes as few TLS records as possible
/// (SWIFT-C-INTEROP.md §5: one record per flush took the handler from 39-42k to 48-51k req/CPU-s).
final class TLSHandlerCore {
    private enum State {
        /// Waiting for the channel to become active.
        case idle
        case handshaking
        case active
        /// We sent `close_notify` (half-close of our output); reads continue.
        case outputClosed
        /// The peer sent `close_notify` and the channel allows half-closure; writes continue.
        case inputClosed
        case closed
    }

    private var state: State = .idle
    private let makeConnection: () throws -> TLSConnection
    private var connection: TLSConnection?
    /// Plaintext written but not yet flushed, or flushed during the handshake.
    private var pending: ByteBuffer?
    private var pendingPromises: [EventLoopPromise<Void>] = []
    /// Whether a flush arrived while the handshake was running.
    private var flushPending = false

    init(makeConnection: @escaping () throws -> TLSConnection) {
        self.makeConnection = makeConnection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.start(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let previous = self.state
        self.state = .closed
        self.failPending(ChannelError.ioOnClosedChannel)
        switch previous {
        case .handshaking:
            context.fireErrorCaught(
                TLSError(kind: .handshakeFailed, message: "the connection closed during the handshake"))
        case .active, .outputClosed:
            context.fireErrorCaught(
                TLSError(kind: .uncleanShutdown, message: "the connection closed without close_notify"))
        case .idle, .inputClosed, .closed:
            break
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, buffer: ByteBuffer) {
        if case .idle = self.state {
            self.start(context: context)
        }
        guard let connection = self.connection else {
            return
        }
        switch self.state {
        case .handshaking:
            connection.feed(buffer)
            self.advanceHandshake(context: context)
        case .active, .outputClosed:
            connection.feed(buffer)
            self.readPlaintext(context: context)
        case .idle, .inputClosed, .closed:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = self.state, let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            return  // already reported when close_notify arrived
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        switch self.state {
        case .idle, .handshaking, .active, .inputClosed:
            if self.pending == nil {
                self.pending = buffer
            } else {
                var incoming = buffer
                self.pending!.writeBuffer(&incoming)
            }
            if let promise {
                self.pendingPromises.append(promise)
            }
        case .outputClosed:
            promise?.fail(ChannelError.outputClosed)
        case .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch self.state {
        case .idle, .handshaking:
            self.flushPending = true
        case .active, .inputClosed:
            self.encryptPending(context: context)
        case .outputClosed, .closed:
            break
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch (mode, self.state) {
        case (.input, _):
            context.close(mode: .input, promise: promise)
        case (.output, .outputClosed):
            promise?.fail(ChannelError.outputClosed)
        case (.output, .active):
            self.failPending(ChannelError.outputClosed)
            self.sendCloseNotify(context: context)
            self.state = .outputClosed
            context.close(mode: .output, promise: promise)
        case (_, .active), (_, .inputClosed):
            self.failPending(ChannelError.ioOnClosedChannel)
            self.sendCloseNotify(context: context)
            self.state = .closed
            context.close(mode: .all, promise: promise)
        case (_, .outputClosed):
            // close_notify already went out with the half-close.
            self.state = .closed
            context.close(mode: .all, promise: promise)
        case (_, .idle), (_, .handshaking), (_, .closed):
            // Before the handshake there is no TLS half-close to offer: close the connection.
            self.failPending(ChannelError.ioOnClosedChannel)
            self.state = .closed
            context.close(mode: .all, promise: promise)
        }
    }
}

extension TLSHandlerCore {
    private func start(context: ChannelHandlerContext) {
        guard case .idle = self.state else {
            return
        }
        do {
            self.connection = try self.makeConnection()
        } catch {
            self.fail(error, context: context)
            return
        }
        self.state = .handshaking
        self.advanceHandshake(context: context)
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        guard let connection = self.connection else {
            return
        }
        switch connection.handshake() {
        case .inProgress:
            self.writeOutbound(context: context)
        case .failed(let error):
            self.writeOutbound(context: context)  // the alert, so the peer learns why
            self.fail(error, context: context)
        case .complete:
            self.writeOutbound(context: context)
            self.state = .active
            context.fireUserInboundEventTriggered(connection.summary())
            guard case .active = self.state else {
                return
            }
            if self.flushPending {
                self.flushPending = false
                self.encryptPending(context: context)
            }
            // TLS 1.3 tickets and early application data may already be buffered.
            self.readPlaintext(context: context)
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        guard let connection = self.connection else {
            return
        }
        readLoop: while true {
            switch self.state {
            case .active, .outputClosed:
                break
            case .idle, .handshaking, .inputClosed, .closed:
                break readLoop
            }
            switch connection.read(allocator: context.channel.allocator) {
            case .data(let buffer):
                context.fireChannelRead(NIOAny(buffer))
            case .wouldBlock:
                break readLoop
            case .closeNotify:
                self.receivedCloseNotify(context: context)
                break readLoop
            case .failed(let error):
                self.writeOutbound(context: context)
                self.fail(error, context: context)
                return
            }
        }
        self.writeOutbound(context: context)
    }

    /// The peer closed its direction (RFC 8446 §6.1). With `allowRemoteHalfClosure` the channel sees
    /// `ChannelEvent.inputClosed` and may keep writing; otherwise we answer with `close_notify` and close.
    private func receivedCloseNotify(context: ChannelHandlerContext) {
        if case .outputClosed = self.state {
            self.state = .closed
            context.close(promise: nil)
            return
        }
        let halfClosure = (try? context.channel.syncOptions?.getOption(.allowRemoteHalfClosure)) ?? false
        if halfClosure == true {
            self.state = .inputClosed
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else {
            self.close(context: context, mode: .all, promise: nil)
        }
    }

    /// Encrypts everything written so far with one `SSL_write` and sends it with one flush.
    private func encryptPending(context: ChannelHandlerContext) {
        guard let connection = self.connection, let plaintext = self.pending else {
            context.flush()
            return
        }
        let promises = self.pendingPromises
        self.pending = nil
        self.pendingPromises = []
        if let error = connection.write(plaintext) {
            promises.forEach { $0.fail(error) }
            self.writeOutbound(context: context)
            self.fail(error, context: context)
            return
        }
        let promise: EventLoopPromise<Void>?
        switch promises.count {
        case 0: promise = nil
        case 1: promise = promises[0]
        default:
            let combined = context.eventLoop.makePromise(of: Void.self)
            combined.futureResult.whenComplete { result in
                promises.forEach { $0.completeWith(result) }
            }
            promise = combined
        }
        self.writeOutbound(context: context, promise: promise)
    }

    private func sendCloseNotify(context: ChannelHandlerContext) {
        guard let connection = self.connection else {
            return
        }
        connection.shutdown()
        self.writeOutbound(context: context)
    }

    /// Sends whatever ciphertext OpenSSL produced, with one flush.
    private func writeOutbound(context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        guard let connection = self.connection,
            let ciphertext = connection.takeOutbound(allocator: context.channel.allocator)
        else {
            promise?.succeed()
            return
        }
        context.writeAndFlush(NIOAny(ciphertext), promise: promise)
    }

    private func fail(_ error: Error, context: ChannelHandlerContext) {
        switch self.state {
        case .closed:
            return
        case .idle, .handshaking, .active, .outputClosed, .inputClosed:
            self.state = .closed
        }
        self.failPending(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func failPending(_ error: Error) {
        let promises = self.pendingPromises
        self.pending = nil
        self.pendingPromises = []
        self.flushPending = false
        promises.forEach { $0.fail(error) }
    }
}
