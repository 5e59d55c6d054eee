import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A raw TCP upstream for protocol upgrades (WebSocket-style): a request head carrying `Upgrade: X` is answered with
/// `101 Switching Protocols` (`Connection: Upgrade`, `Upgrade: X`), and from then on every byte is echoed back.
/// A head without `Upgrade` gets a plain `200` with `content-length`. Heads seen are recorded for assertions.
final class UpgradeEchoBackend: Sendable {
    let channel: Channel
    private let heads: NIOLockedValueBox<[String]>
    private let accepted: NIOLockedValueBox<Int>

    var port: Int { self.channel.localAddress!.port! }
    /// Every request head received (start line and fields, without the final blank line), in arrival order.
    var seenHeads: [String] { self.heads.withLockedValue { $0 } }
    /// Connections accepted so far.
    var connections: Int { self.accepted.withLockedValue { $0 } }

    private init(channel: Channel, heads: NIOLockedValueBox<[String]>, accepted: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.heads = heads
        self.accepted = accepted
    }

    static func start() async throws -> UpgradeEchoBackend {
        let heads = NIOLockedValueBox<[String]>([])
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpgradeEchoHandler(heads: heads))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return UpgradeEchoBackend(channel: channel, heads: heads, accepted: accepted)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

private final class UpgradeEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let heads: NIOLockedValueBox<[String]>
    var pending: [UInt8] = []
    var echoing = false

    init(heads: NIOLockedValueBox<[String]>) {
        self.heads = heads
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        if self.echoing {
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            return
        }
        self.pending += Array(buffer.readableBytesView)
        while !self.echoing, let end = self.pending.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = String(decoding: self.pending[0..<end.lowerBound], as: UTF8.self)
            self.pending.removeSubrange(0..<end.upperBound)
            self.heads.withLockedValue { $0.append(head) }
            let upgrade = head.split(separator: "\r\n").dropFirst().first { line in
                line.lowercased().hasPrefix("upgrade:")
            }.map { line in
                line.dropFirst("upgrade:".count).trimmingCharacters(in: .whitespaces)
            }
            if let upgrade {
                let response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: \(upgrade)\r\n\r\n"
                context.write(self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
                self.echoing = true
                // Bytes that arrived with the head already belong to the new protocol.
                if !self.pending.isEmpty {
                    context.write(self.wrapOutboundOut(ByteBuffer(bytes: self.pending)), promise: nil)
                    self.pending = []
                }
                context.flush()
            } else {
                let response = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
            }
        }
    }
}
