import Logging
import NIOCore
import NIOPosix
import PortcullisProxy
import PortcullisRouting

/// Binds one `ServerBootstrap` per (bind, port) of the compiled listeners and keeps the set in step with each
/// snapshot: new listeners are bound, vanished ones stop accepting while their connections finish.
final class ListenerManager: @unchecked Sendable {
    // Only mutated from the server's reload task (one at a time), never from event loops.
    private var channels: [String: Channel] = [:]
    private let group: MultiThreadedEventLoopGroup
    private let workers: WorkerSet
    private let defaultBind: String
    private let logger: Logger

    init(group: MultiThreadedEventLoopGroup, workers: WorkerSet, defaultBind: String, logger: Logger) {
        self.group = group
        self.workers = workers
        self.defaultBind = defaultBind
        self.logger = logger
    }

    /// The kind is part of the key: a port that changes from HTTP to TLS gets a new listener.
    private func key(_ listener: Listener) -> String {
        "\(self.address(of: listener)):\(listener.port) (\(listener.kind))"
    }

    private func address(of listener: Listener) -> String {
        listener.bind == "0.0.0.0" || listener.bind.isEmpty ? self.defaultBind : listener.bind
    }

    /// Ports actually bound, for logs and tests.
    var boundPorts: [Int] { self.channels.values.compactMap { $0.localAddress?.port }.sorted() }

    /// Makes the bound set equal to the HTTP listeners of `table`. Returns the problems (e.g. port in use).
    func apply(_ table: RoutingTable) async -> [String] {
        var problems: [String] = []
        var wanted: [String: Listener] = [:]
        for listener in table.listeners {
            wanted[self.key(listener)] = listener
        }
        var removedPorts: Set<Int> = []
        for (key, channel) in self.channels where wanted[key] == nil {
            self.logger.info("closing listener", metadata: ["listener": "\(key)"])
            self.channels[key] = nil
            if let port = channel.localAddress?.port { removedPorts.insert(port) }
            try? await channel.close()
        }
        if !removedPorts.isEmpty {
            // Connections accepted by a removed listener finish what they are doing and close (GOAWAY on HTTP/2);
            // done before binding anything new, so a port that changes kind only drains the old connections.
            let ports = removedPorts
            try? await self.workers.forEach { worker in
                for port in ports { worker.drainListener(port: port) }
            }?.get()
        }
        for (key, listener) in wanted.sorted(by: { $0.key < $1.key }) where self.channels[key] == nil {
            do {
                let channel = try await self.bind(listener)
                self.channels[key] = channel
                self.logger.info("listening", metadata: ["listener": "\(key)"])
            } catch {
                problems.append("cannot listen on \(key): \(error)")
                self.logger.error("cannot listen", metadata: ["listener": "\(key)", "error": "\(error)"])
            }
        }
        return problems
    }

    private func bind(_ listener: Listener) async throws -> Channel {
        let workers = self.workers
        let port = listener.port
        let kind = listener.kind
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // TLS and TCP connections pass half-close through; plain HTTP/1.1 treats EOF as the end.
            .childChannelOption(.allowRemoteHalfClosure, value: kind != .http)
            // Bulk transfers (tunnels, large bodies) stall on NIO's 64 KiB default high-water mark.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let worker = workers.worker(for: channel.eventLoop)
                    switch kind {
                    case .http:
                        let handler = DownstreamHTTP1HandlerFactory.plaintext(worker: worker, listenerPort: port)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    case .tls:
                        try channel.pipeline.syncOperations.addHandler(ListenerHandlerFactory.tls(worker: worker, port: port))
                    case .tcp:
                        guard let handler = ListenerHandlerFactory.tcp(worker: worker, port: port) else {
                            channel.close(promise: nil)
                            return
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            }
            .bind(host: self.address(of: listener), port: port)
            .get()
    }

    /// Stops accepting on every listener (drain); established connections are untouched.
    func closeAll() async {
        let all = self.channels.values
        self.channels.removeAll()
        for channel in all { try? await channel.close() }
    }
}
