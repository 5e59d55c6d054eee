import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A raw TCP upstream that records every byte it receives and answers each request head with a fixed 200.
/// Smuggling tests assert on what it saw: most framing bugs only show at the upstream (HARDENING §B harness 2).
final class RecordingBackend: Sendable {
    let channel: Channel
    private let sink: NIOLockedValueBox<[UInt8]>
    private let accepted: NIOLockedValueBox<Int>

    /// Connections accepted so far.
    var connections: Int { self.accepted.withLockedValue { $0 } }

    var port: Int { self.channel.localAddress!.port! }
    /// Everything received so far, over all connections.
    var recorded: String { String(decoding: self.sink.withLockedValue { $0 }, as: UTF8.self) }

    private init(channel: Channel, sink: NIOLockedValueBox<[UInt8]>, accepted: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.sink = sink
        self.accepted = accepted
    }

    /// `status` is what every request gets (200 with body `ok`, or an empty response with another code); with
    /// `answers: false` nothing is ever answered (a request stays in flight until the gateway gives up on it).
    static func start(status: Int = 200, answers: Bool = true) async throws -> RecordingBackend {
        let sink = NIOLockedValueBox<[UInt8]>([])
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RecordingHandler(sink: sink, status: status, answers: answers))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RecordingBackend(channel: channel, sink: sink, accepted: accepted)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let sink: NIOLockedValueBox<[UInt8]>
    let status: Int
    let answers: Bool
    var pending: [UInt8] = []

    init(sink: NIOLockedValueBox<[UInt8]>, status: Int, answers: Bool) {
        self.sink = sink
        self.status = status
        self.answers = answers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        let bytes = Array(buffer.readableBytesView)
        self.sink.withLockedValue { $0.append(contentsOf: bytes) }
        guard self.answers else { return }
        self.pending += bytes
        // Answer once per complete head (bodies are small in these tests and counted by the recorder only).
        while let end = self.pending.firstRange(of: Array("\r\n\r\n".utf8)) {
            self.pending.removeSubrange(0..<end.upperBound)
            let response = self.status == 200
                ? "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                : "HTTP/1.1 \(self.status) Failing\r\ncontent-length: 0\r\n\r\n"
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        }
    }
}
