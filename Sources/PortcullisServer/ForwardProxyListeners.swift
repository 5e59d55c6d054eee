import Logging
import NIOCore
import NIOPosix
import PortcullisModel
import PortcullisProxy

/// Binds one `ServerBootstrap` per `ForwardProxy` resource (issue 5, forward-proxy mode) and keeps the set in step
/// with each snapshot, as `ListenerManager` does for Gateway listeners: new ones are bound, vanished or changed ones
/// stop accepting while their connections finish. The allow-list itself comes from each worker's snapshot, so a
/// reload that only changes ServiceEntries applies to the next attempt without rebinding.
final class ForwardProxyListeners: @unchecked Sendable {
    // Only mutated from the server's startup and reload task (one at a time), never from event loops.
    private var channels: [String: Channel] = [:]
    private let group: MultiThreadedEventLoopGroup
    private let workers: WorkerSet
    private let defaultBind: String
    private let gatewayNamespace: String
    private let logger: Logger

    init(
        group: MultiThreadedEventLoopGroup, workers: WorkerSet, defaultBind: String, gatewayNamespace: String,
        logger: Logger
    ) {
        self.group = group
        self.workers = workers
        self.defaultBind = defaultBind
        self.gatewayNamespace = gatewayNamespace
        self.logger = logger
    }

    /// Creates the listeners and binds those of `config` (the startup call in `GatewayServer.run`).
    static func start(
        _ config: ConfigSet, _ group: MultiThreadedEventLoopGroup, _ workers: WorkerSet, _ options: GatewayOptions,
        _ logger: Logger
    ) async -> ForwardProxyListeners {
        let listeners = ForwardProxyListeners(
            group: group, workers: workers, defaultBind: options.listenAddress, gatewayNamespace: options.namespace,
            logger: logger)
        await listeners.apply(config: config)
        return listeners
    }

    /// The allowances are part of the key: changing `allowedPrivateCIDRs` rebinds with the new policy.
    private func key(_ proxy: ForwardProxy) -> String {
        "\(self.address(of: proxy)):\(proxy.port) (forward-proxy \(proxy.meta.namespace)/\(proxy.meta.name) "
            + "allow=\(proxy.allowedPrivateCIDRs.joined(separator: ",")))"
    }

    private func address(of proxy: ForwardProxy) -> String {
        guard let bind = proxy.bind, !bind.isEmpty, bind != "0.0.0.0" else { return self.defaultBind }
        return bind
    }

    /// Ports actually bound, for logs and tests.
    var boundPorts: [Int] { self.channels.values.compactMap { $0.localAddress?.port }.sorted() }

    /// Makes the bound set equal to the `ForwardProxy` resources of `config`. Returns the problems (e.g. port in use).
    @discardableResult
    func apply(config: ConfigSet) async -> [String] {
        var problems: [String] = []
        var wanted: [String: ForwardProxy] = [:]
        for proxy in config.forwardProxies {
            wanted[self.key(proxy)] = proxy
        }
        for (key, channel) in self.channels where wanted[key] == nil {
            self.logger.info("closing forward proxy", metadata: ["listener": "\(key)"])
            self.channels[key] = nil
            try? await channel.close()
        }
        for (key, proxy) in wanted.sorted(by: { $0.key < $1.key }) where self.channels[key] == nil {
            do {
                self.channels[key] = try await self.bind(proxy)
                self.logger.info("forward proxy listening", metadata: ["listener": "\(key)"])
            } catch {
                problems.append("cannot listen on \(key): \(error)")
                self.logger.error("cannot listen", metadata: ["listener": "\(key)", "error": "\(error)"])
            }
        }
        return problems
    }

    private func bind(_ proxy: ForwardProxy) async throws -> Channel {
        let workers = self.workers
        let policy = ForwardProxyPolicy(
            allowedPrivate: proxy.allowedPrivateCIDRs, gatewayNamespace: self.gatewayNamespace)
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // CONNECT tunnels pass half-close through (GlueHandler).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            // Bulk transfers (tunnels, large bodies) stall on NIO's 64 KiB default high-water mark.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let worker = workers.worker(for: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(
                        ForwardProxyHandlerFactory.make(worker: worker, policy: policy))
                }
            }
            .bind(host: self.address(of: proxy), port: proxy.port)
            .get()
    }

    /// Stops accepting on every forward-proxy listener (drain); established connections are untouched.
    func closeAll() async {
        let all = self.channels.values
        self.channels.removeAll()
        for channel in all { try? await channel.close() }
    }
}
