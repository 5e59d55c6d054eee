import NIOCore
import NIOPosix

/// Why one exchange with one server gave no usable answer.
struct DNSTransportError: Error, CustomStringConvertible {
    let description: String
}

/// One query to one server over UDP, or TCP when the UDP answer is truncated (RFC 1035 §4.2, RFC 7766).
///
/// All I/O is non-blocking NIO on `loop`. UDP uses a fresh socket (a random source port) per query and accepts only
/// datagrams from the server's address whose id and question match (RFC 5452 §9.1); anything else is dropped and
/// the wait goes on until `timeout`.
enum DNSTransport {
    static func exchange(
        query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, timeout: Duration,
        on loop: EventLoop
    ) -> EventLoopFuture<DNSMessage> {
        Self.udp(query: query, id: id, question: question, server: server, timeout: timeout, on: loop)
            .flatMap { message in
                guard message.isTruncated else { return loop.makeSucceededFuture(message) }
                return Self.tcp(query: query, id: id, question: question, server: server, timeout: timeout, on: loop)
            }
    }

    static func udp(
        query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, timeout: Duration,
        on loop: EventLoop
    ) -> EventLoopFuture<DNSMessage> {
        let promise = loop.makePromise(of: DNSMessage.self)
        let wildcard = server.protocol == .inet6 ? "::" : "0.0.0.0"
        DatagramBootstrap(group: loop)
            // Room for answers larger than the 1232 bytes offered by EDNS, from servers that ignore it.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSDatagramHandler(server: server, id: id, question: question, promise: promise))
                }
            }
            .bind(host: wildcard, port: 0)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(DNSTransportError(description: "udp socket: \(error)"))
                case .success(let channel):
                    let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
                        promise.fail(DNSTransportError(description: "timeout from \(server)"))
                    }
                    promise.futureResult.whenComplete { _ in
                        timer.cancel()
                        channel.close(promise: nil)
                    }
                    let envelope = AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query))
                    channel.writeAndFlush(envelope).whenFailure { error in
                        promise.fail(DNSTransportError(description: "udp send to \(server): \(error)"))
                    }
                }
            }
        return promise.futureResult
    }

    static func tcp(
        query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, timeout: Duration,
        on loop: EventLoop
    ) -> EventLoopFuture<DNSMessage> {
        let promise = loop.makePromise(of: DNSMessage.self)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(DNSTransportError(description: "tcp timeout from \(server)"))
        }
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSStreamHandler(id: id, question: question, promise: promise))
                }
            }
            .connect(to: server)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(DNSTransportError(description: "tcp connect to \(server): \(error)"))
                case .success(let channel):
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    var buffer = channel.allocator.buffer(capacity: query.count + 2)
                    buffer.writeInteger(UInt16(query.count))
                    buffer.writeBytes(query)
                    channel.writeAndFlush(buffer, promise: nil)
                }
            }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }
}

/// Waits on a UDP socket for the one datagram that answers the query.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: SocketAddress
    private let id: UInt16
    private let question: DNSQuestion
    private let promise: EventLoopPromise<DNSMessage>

    init(server: SocketAddress, id: UInt16, question: DNSQuestion, promise: EventLoopPromise<DNSMessage>) {
        self.server = server
        self.id = id
        self.question = question
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        // Spoofed or late datagrams (another source, another id or question, garbage) are dropped, not fatal.
        guard envelope.remoteAddress == self.server,
            let message = try? DNSMessage(decoding: Array(envelope.data.readableBytesView)),
            message.matches(id: self.id, question: self.question)
        else { return }
        self.promise.succeed(message)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.promise.fail(DNSTransportError(description: "udp from \(self.server): \(error)"))
    }
}

@available(*, unavailable)
extension DNSDatagramHandler: Sendable {}

/// Reads one length-prefixed message from a TCP connection (RFC 1035 §4.2.2).
final class DNSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let question: DNSQuestion
    private let promise: EventLoopPromise<DNSMessage>
    private var received: ByteBuffer?

    init(id: UInt16, question: DNSQuestion, promise: EventLoopPromise<DNSMessage>) {
        self.id = id
        self.question = question
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = Self.unwrapInboundIn(data)
        if self.received == nil {
            self.received = chunk
        } else {
            self.received!.writeBuffer(&chunk)
        }
        guard let buffer = self.received, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            let body = buffer.getBytes(at: buffer.readerIndex + 2, length: Int(length))
        else { return }
        do {
            let message = try DNSMessage(decoding: body)
            guard message.matches(id: self.id, question: self.question) else {
                throw DNSTransportError(description: "tcp answer does not match the query")
            }
            self.promise.succeed(message)
        } catch {
            self.promise.fail(error)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(DNSTransportError(description: "tcp connection closed before the answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.promise.fail(DNSTransportError(description: "tcp: \(error)"))
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension DNSStreamHandler: Sendable {}
