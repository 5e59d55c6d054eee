import GRPCCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortcullisHTTP2
import PortcullisTLS

/// Where and how a ``HTTP2GRPCTransport`` connects.
public struct GRPCTransportConfiguration: Sendable {
    /// The server's address.
    public enum Target: Sendable, Hashable, CustomStringConvertible {
        case host(String, port: Int)
        case unixDomainSocket(String)

        public var description: String {
            switch self {
            case .host(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unixDomainSocket(let path): "unix:\(path)"
            }
        }
    }

    public var target: Target
    /// The `:authority` of every call (istiod: `istiod.istio-system.svc`).
    public var authority: String
    /// TLS client context (must offer ALPN `h2`); nil for plaintext (h2c with prior knowledge).
    public var tls: TLSContext?
    /// The SNI to send with TLS; nil sends none.
    public var serverName: String?
    public var connectTimeout: TimeAmount
    /// The largest response message accepted.
    public var maxResponseMessageBytes: Int
    /// HTTP/2 settings of the client side (large windows: config pushes can be many megabytes).
    public var http2: HTTP2Settings
    /// TCP keepalive: probes after `idleSeconds` without traffic, every `intervalSeconds`, `probes` times.
    public var keepalive: (idleSeconds: Int, intervalSeconds: Int, probes: Int) = (30, 10, 3)

    public init(
        target: Target, authority: String, tls: TLSContext? = nil, serverName: String? = nil,
        connectTimeout: TimeAmount = .seconds(10), maxResponseMessageBytes: Int = 256 << 20
    ) {
        self.target = target
        self.authority = authority
        self.tls = tls
        self.serverName = serverName
        self.connectTimeout = connectTimeout
        self.maxResponseMessageBytes = maxResponseMessageBytes
        var http2 = HTTP2Settings()
        http2.initialWindowSize = 4 << 20
        http2.connectionWindowSize = 16 << 20
        self.http2 = http2
    }
}

/// A grpc-swift-2 client transport over the project's own HTTP/2 (nghttp2) and TLS (OpenSSL) layers, so gRPC
/// needs neither swift-nio-http2 nor swift-nio-ssl. One connection at a time, opened when the first call needs
/// it and replaced when it closes or the server sends GOAWAY. Messages are never compressed.
public final class HTTP2GRPCTransport: ClientTransport {
    public typealias Bytes = [UInt8]

    public let configuration: GRPCTransportConfiguration
    private let group: any EventLoopGroup
    private let state = NIOLockedValueBox(State())

    private struct State {
        var connection: EventLoopFuture<GRPCConnection>?
        var shutDown = false
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public init(configuration: GRPCTransportConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    public var retryThrottle: RetryThrottle? { nil }

    public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? { nil }

    /// Runs until ``beginGracefulShutdown()``; connections are opened on demand by calls.
    /// Cancelling the task (as `withGRPCClient` does when its body throws) shuts down the same way.
    public func connect() async throws {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLockedValue { state -> Bool in
                    if state.shutDown { return true }
                    state.shutdownWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.beginGracefulShutdown()
        }
    }

    /// Stops new calls; the open connection closes once its calls finish.
    public func beginGracefulShutdown() {
        let (connection, waiters) = self.state.withLockedValue { state in
            state.shutDown = true
            defer { state.shutdownWaiters = [] }
            return (state.connection, state.shutdownWaiters)
        }
        connection?.whenSuccess { $0.shutdown() }
        for waiter in waiters { waiter.resume() }
    }

    public func withStream<T: Sendable>(
        descriptor: MethodDescriptor, options: CallOptions,
        _ closure: (_ stream: RPCStream<Inbound, Outbound>, _ context: ClientContext) async throws -> T
    ) async throws -> T {
        let connection = try await self.usableConnection()
        let (responses, continuation) = AsyncThrowingStream.makeStream(of: RPCResponsePart<[UInt8]>.self)
        let (token, remotePeer, localPeer) = try await connection.register(continuation)
        let writer = GRPCRequestWriter(
            connection: connection, token: token,
            path: "/\(descriptor.fullyQualifiedMethod)", authority: self.configuration.authority,
            scheme: self.configuration.tls == nil ? "http" : "https", timeout: options.timeout)
        continuation.onTermination = { reason in
            if case .cancelled = reason { connection.cancel(token) }
        }
        let stream = RPCStream(
            descriptor: descriptor, inbound: RPCAsyncSequence(wrapping: responses),
            outbound: RPCWriter.Closable(wrapping: writer))
        let context = ClientContext(
            descriptor: descriptor, remotePeer: remotePeer, localPeer: localPeer)
        defer { connection.cancel(token) }  // no-op when the call already ended
        return try await closure(stream, context)
    }

    /// The current connection if still usable, else a new one.
    private func usableConnection() async throws -> GRPCConnection {
        let future: EventLoopFuture<GRPCConnection> = try self.state.withLockedValue { state in
            if state.shutDown { throw RPCError(code: .unavailable, message: "the transport is shut down") }
            if let current = state.connection { return current }
            let fresh = self.makeConnection()
            state.connection = fresh
            return fresh
        }
        do {
            let connection = try await future.get()
            if try await connection.isUsable() { return connection }
        } catch {
            self.forget(future)
            throw RPCError(code: .unavailable, message: "cannot connect to \(self.configuration.target): \(error)")
        }
        self.forget(future)
        return try await self.usableConnection()
    }

    private func forget(_ future: EventLoopFuture<GRPCConnection>) {
        self.state.withLockedValue { state in
            if state.connection === future { state.connection = nil }
        }
    }

    private func makeConnection() -> EventLoopFuture<GRPCConnection> {
        let configuration = self.configuration
        let bootstrap = ClientBootstrap(group: self.group)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try channel.pipeline.syncOperations.addHandler(
                            TLSClientHandler(context: tls, serverName: configuration.serverName))
                    }
                    let session = try HTTP2ClientSession(settings: configuration.http2)
                    try channel.pipeline.syncOperations.addHandler(
                        GRPCConnectionHandler(
                            session: session, maxMessageBytes: configuration.maxResponseMessageBytes,
                            awaitingTLS: configuration.tls != nil, eventLoop: channel.eventLoop))
                }
            }
        if case .host = configuration.target {
            // TCP keepalive finds a control plane that vanished without a FIN (node lost, partition) within about
            // a minute, so the stream fails and reconnects instead of waiting forever for the next push.
            func tcp(_ name: CInt) -> ChannelOptions.Types.SocketOption {
                .init(level: .init(rawValue: CInt(IPPROTO_TCP)), name: .init(rawValue: name))
            }
            _ = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(tcp(TCP_KEEPIDLE), value: SocketOptionValue(configuration.keepalive.idleSeconds))
                .channelOption(tcp(TCP_KEEPINTVL), value: SocketOptionValue(configuration.keepalive.intervalSeconds))
                .channelOption(tcp(TCP_KEEPCNT), value: SocketOptionValue(configuration.keepalive.probes))
        }
        let connected: EventLoopFuture<any Channel>
        switch configuration.target {
        case .host(let host, let port): connected = bootstrap.connect(host: host, port: port)
        case .unixDomainSocket(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        return connected.flatMap { channel in
            channel.eventLoop.makeCompletedFuture {
                let handler = try channel.pipeline.syncOperations.handler(type: GRPCConnectionHandler.self)
                let connection = GRPCConnection(handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                return handler.ready.futureResult.map { connection }
            }.flatMap { $0 }
        }
    }
}

/// A Sendable handle on a ``GRPCConnectionHandler``: every operation hops to its event loop.
struct GRPCConnection: Sendable {
    let handler: NIOLoopBound<GRPCConnectionHandler>
    var eventLoop: any EventLoop { self.handler.eventLoop }

    func isUsable() async throws -> Bool {
        try await self.eventLoop.submit { !self.handler.value.isUnusable }.get()
    }

    /// Registers a call; returns its token and the peers' addresses.
    func register(_ responses: GRPCResponseContinuation) async throws -> (UInt64, String, String) {
        try await self.eventLoop.submit {
            let handler = self.handler.value
            return (handler.register(responses), handler.remoteAddress, handler.localAddress)
        }.get()
    }

    func start(_ token: UInt64, headers: [HTTP2Header]) async throws {
        try await self.eventLoop.submit { try self.handler.value.start(token, headers: headers) }.get()
    }

    func send(_ token: UInt64, message: [UInt8]) async throws {
        try await self.eventLoop.submit { try self.handler.value.send(token, message: message) }.get()
    }

    func finishRequests(_ token: UInt64) async {
        try? await self.eventLoop.submit { self.handler.value.finishRequests(token) }.get()
    }

    func cancel(_ token: UInt64, error: (any Error)? = nil) {
        self.eventLoop.execute { self.handler.value.cancel(token, error: error) }
    }

    func shutdown() {
        self.eventLoop.execute { self.handler.value.shutdown() }
    }
}
