import NIOCore
import NIOHTTP1
import NIOPosix

/// What the admin listener serves; implemented by the gateway server.
protocol AdminDataSource: Sendable {
    /// (status, body) for `/ready`.
    func readiness() -> (Int, String)
    func prometheusText() -> String
    func configDumpJSON() -> String
}

/// The admin listener (`--admin`): `/ready`, `/stats/prometheus`, `/config_dump`. Plain NIOHTTP1: it is not
/// on the data path, so clarity beats speed here.
enum AdminServer {
    static func bind(host: String, port: Int, group: EventLoopGroup, source: AdminDataSource) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(source: source))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let source: AdminDataSource
    private var head: HTTPRequestHead?

    init(source: AdminDataSource) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let (status, contentType, body) = self.respond(to: head)
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: contentType)
            headers.add(name: "content-length", value: String(body.utf8.count))
            let responseHead = HTTPResponseHead(
                version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
            context.write(self.wrapOutboundOut(.head(responseHead)), promise: nil)
            if head.method != .HEAD {
                context.write(
                    self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                    promise: nil)
            }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    private func respond(to head: HTTPRequestHead) -> (Int, String, String) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard head.method == .GET || head.method == .HEAD else {
            return (405, "text/plain", "method not allowed\n")
        }
        switch path {
        case "/ready", "/healthz/ready":
            let (status, text) = self.source.readiness()
            return (status, "text/plain", text + "\n")
        case "/stats/prometheus", "/metrics":
            return (200, "text/plain; version=0.0.4", self.source.prometheusText())
        case "/config_dump":
            return (200, "application/json", self.source.configDumpJSON())
        case "/":
            return (200, "text/plain", "portcullis admin: /ready /stats/prometheus /config_dump\n")
        default:
            return (404, "text/plain", "not found\n")
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
