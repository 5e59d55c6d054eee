import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 backend on 127.0.0.1:0 (or another loopback address and port) for integration tests.
///
/// - `/status/N` answers N; `/delay/MS` answers after MS milliseconds; `/bytes/N` streams N bytes (chunked);
/// - `POST` bodies are counted as they stream (never buffered) and the count is returned;
/// - anything else echoes the request as JSON: method, uri, headers, body_bytes and the backend's name.
/// Every response carries `x-backend: <name>`. Requests seen are recorded for assertions.
final class TestBackend: Sendable {
    let name: String
    let channel: Channel
    private let requests = NIOLockedValueBox<[RecordedRequest]>([])
    private let accepted: NIOLockedValueBox<Int>

    /// TCP connections accepted so far (a pooled upstream connection counts once).
    var connections: Int { self.accepted.withLockedValue { $0 } }
    /// TCP connections open now.
    var openConnections: Int { self.open.withLockedValue { $0 } }
    private let open: NIOLockedValueBox<Int>

    struct RecordedRequest: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var bodyBytes: Int

        func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    var port: Int { self.channel.localAddress!.port! }
    var seen: [RecordedRequest] { self.requests.withLockedValue { $0 } }

    private init(name: String, channel: Channel, accepted: NIOLockedValueBox<Int>, open: NIOLockedValueBox<Int>) {
        self.name = name
        self.channel = channel
        self.accepted = accepted
        self.open = open
    }

    static func start(
        name: String, host: String = "127.0.0.1", port: Int = 0,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestBackend {
        let box = NIOLockedValueBox<TestBackend?>(nil)
        let accepted = NIOLockedValueBox(0)
        let open = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                open.withLockedValue { $0 += 1 }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        BackendHandler(name: name, record: { r in box.withLockedValue { $0?.record(r) } }))
                }
            }
            .bind(host: host, port: port).get()
        let backend = TestBackend(name: name, channel: channel, accepted: accepted, open: open)
        box.withLockedValue { $0 = backend }
        return backend
    }

    fileprivate func record(_ request: RecordedRequest) {
        self.requests.withLockedValue { $0.append(request) }
    }

    func stop() async {
        try? await self.channel.close()
    }
}

private final class BackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    let record: @Sendable (TestBackend.RecordedRequest) -> Void
    var head: HTTPRequestHead?
    var bodyBytes = 0

    init(name: String, record: @escaping @Sendable (TestBackend.RecordedRequest) -> Void) {
        self.name = name
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.bodyBytes = 0
        case .body(let body):
            self.bodyBytes += body.readableBytes
        case .end:
            guard let head = self.head else { return }
            self.record(
                .init(
                    method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    bodyBytes: self.bodyBytes))
            self.respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/")
        if parts.count == 2, parts[0] == "status", let code = Int(parts[1]) {
            self.send(context: context, head: head, status: code, body: "status \(code)\n")
        } else if parts.count == 2, parts[0] == "delay", let ms = Int64(parts[1]) {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = bound.value
                handler.send(context: context, head: head, status: 200, body: "delayed \(ms)ms\n")
            }
        } else if parts.count == 2, parts[0] == "bytes", let count = Int(parts[1]) {
            self.stream(context: context, head: head, count: count)
        } else if head.method == .POST || head.method == .PUT {
            self.send(context: context, head: head, status: 200, body: "received \(self.bodyBytes) bytes\n")
        } else {
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                let key = name.lowercased()
                headers[key] = headers[key].map { $0 + "," + value } ?? value
            }
            let json: [String: Any] = [
                "backend": self.name, "method": head.method.rawValue, "uri": head.uri, "headers": headers,
                "body_bytes": self.bodyBytes,
            ]
            let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            self.send(
                context: context, head: head, status: 200, body: String(decoding: data, as: UTF8.self),
                contentType: "application/json")
        }
    }

    private func send(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: Int, body: String,
        contentType: String = "text/plain"
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "x-backend", value: self.name)
        headers.add(name: "server", value: "test-backend")
        let response = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers)
        context.write(self.wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func stream(context: ChannelHandlerContext, head: HTTPRequestHead, count: Int) {
        var headers = HTTPHeaders()
        headers.add(name: "x-backend", value: self.name)
        headers.add(name: "transfer-encoding", value: "chunked")
        context.write(self.wrapOutboundOut(.head(.init(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        self.streamRemaining = count
        self.writeMore(context: context)
    }

    private var streamRemaining = 0
    private static let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

    /// Writes the next chunk once the previous one reached the socket (so the backend itself has backpressure).
    private func writeMore(context: ChannelHandlerContext) {
        if self.streamRemaining <= 0 {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let size = min(self.streamRemaining, Self.chunk.readableBytes)
        self.streamRemaining -= size
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(Self.chunk.getSlice(at: 0, length: size)!))))
            .whenSuccess {
                // Continue from a fresh stack: a write that completes inline would otherwise recurse once per chunk,
                // and a 512 MiB body overflowed the event loop thread's stack (SIGSEGV in the test process).
                loop.execute {
                    let (handler, context) = bound.value
                    handler.writeMore(context: context)
                }
            }
    }
}
