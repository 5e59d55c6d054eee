import NIOCore
import NIOPosix
import PortcullisTLS

/// Per-event-loop pool of upstream HTTP/1.1 connections, keyed by endpoint (`ip:port`), like Envoy's per-worker
/// pools. Only touched from its event loop, so it needs no locks. Keys do not depend on the config snapshot, so a
/// reload keeps every idle connection whose endpoint still exists.
final class UpstreamPool {
    let eventLoop: EventLoop
    /// Idle connections per endpoint, most recently used last (LIFO reuse keeps the working set small).
    private var idle: [String: [UpstreamConnection]] = [:]
    /// Open connections per cluster name, for `maxConnections`.
    private var openPerCluster: [String: Int] = [:]
    /// One sweep closes expired idle connections, instead of a timer per connection and request (a scheduled task
    /// per release showed up in profiles).
    private var sweep: Scheduled<Void>?

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Open connections of `cluster` (idle and in use).
    func openConnections(cluster: String) -> Int { self.openPerCluster[cluster, default: 0] }

    /// A live idle connection to `endpointKey`, checked out; nil when none.
    func checkoutIdle(endpointKey: String) -> UpstreamConnection? {
        // Pop in place: copying the list out of the dictionary would copy-on-write the array on every checkout.
        while let connection = self.idle[endpointKey]?.popLast() {
            if self.idle[endpointKey]?.isEmpty == true { self.idle[endpointKey] = nil }
            if connection.isActive { return connection }
        }
        return nil
    }

    /// Opens a new connection; with `tls`, a TLS client handler goes first and the future completes only after
    /// the handshake (so a verification failure is a connect failure). The future completes on this pool's loop.
    func connect(
        to address: SocketAddress, endpointKey: String, clusterName: String, connectTimeout: TimeAmount,
        tls: (context: TLSContext, serverName: String?)? = nil
    ) -> EventLoopFuture<UpstreamConnection> {
        self.openPerCluster[clusterName, default: 0] += 1
        let connection = UpstreamConnection(endpointKey: endpointKey, clusterName: clusterName)
        connection.pool = self
        let loop = self.eventLoop
        if tls != nil { connection.handshake = loop.makePromise(of: Void.self) }
        let boundConnection = NIOLoopBound(connection, eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            TLSClientHandler(context: tls.context, serverName: tls.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(boundConnection.value)
                }
            }
        return bootstrap.connect(to: address).flatMapErrorThrowing { error in
            let connection = boundConnection.value
            connection.handshake?.fail(error)
            connection.handshake = nil
            connection.pool?.connectionClosed(connection)
            throw error
        }.flatMap { _ in
            let connection = boundConnection.value
            guard let handshake = connection.handshake else { return loop.makeSucceededFuture(()) }
            return handshake.futureResult
        }.map { _ in boundConnection.value }
    }

    /// Returns a connection after a complete exchange; it closes after `idleTimeout` unused.
    func release(_ connection: UpstreamConnection, idleTimeout: TimeAmount) {
        connection.finish()
        guard connection.isActive else { return }
        connection.idleDeadline = .now() + idleTimeout
        self.idle[connection.endpointKey, default: []].append(connection)
        if self.sweep == nil { self.scheduleSweep() }
    }

    private func scheduleSweep() {
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.sweep = self.eventLoop.scheduleTask(in: .seconds(1)) {
            bound.value.sweepIdle()
        }
    }

    private func sweepIdle() {
        self.sweep = nil
        let now = NIODeadline.now()
        var expired: [UpstreamConnection] = []
        for (key, list) in self.idle {
            let keep = list.filter { $0.idleDeadline > now && $0.isActive }
            expired += list.filter { $0.idleDeadline <= now }
            self.idle[key] = keep.isEmpty ? nil : keep
        }
        for connection in expired { connection.close() }
        if !self.idle.isEmpty { self.scheduleSweep() }
    }

    /// Called once when a connection's channel goes away (or never connected).
    func connectionClosed(_ connection: UpstreamConnection) {
        connection.pool = nil
        if let n = self.openPerCluster[connection.clusterName] {
            self.openPerCluster[connection.clusterName] = n > 1 ? n - 1 : nil
        }
        if var list = self.idle[connection.endpointKey],
            let index = list.firstIndex(where: { $0 === connection })
        {
            list.remove(at: index)
            self.idle[connection.endpointKey] = list.isEmpty ? nil : list
        }
    }

    /// Number of idle connections (for tests and the admin dump).
    var idleCount: Int { self.idle.values.reduce(0) { $0 + $1.count } }

    /// Closes every idle connection (shutdown).
    /// Closes the idle connections to endpoints that left every cluster (`ip:port`, with or without the TLS
    /// suffix of the pool key). A connection in use at that moment finishes its exchange and goes back to the pool,
    /// where the idle timeout closes it (no new request picks it: the endpoint is in no cluster).
    func closeIdle(endpoints removed: Set<String>) {
        guard !removed.isEmpty else { return }
        for key in Array(self.idle.keys) {
            let endpoint = key.split(separator: "|", maxSplits: 1).first.map(String.init) ?? key
            guard removed.contains(endpoint), let connections = self.idle.removeValue(forKey: key) else { continue }
            for connection in connections { connection.close() }
        }
    }

    func closeIdle() {
        let all = self.idle.values.flatMap { $0 }
        self.idle.removeAll()
        self.sweep?.cancel()
        self.sweep = nil
        for connection in all { connection.close() }
    }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}
