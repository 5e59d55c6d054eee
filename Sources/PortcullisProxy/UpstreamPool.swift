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
    var openPerCluster: [String: Int] = [:]
    /// Multiplexed HTTP/2 connections per pool key (live or connecting), oldest first.
    var http2: [String: [UpstreamHTTP2Connection]] = [:]
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
        let bootstrap = self.bootstrap(connectTimeout: connectTimeout, tls: tls, handler: boundConnection)
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

    /// A client bootstrap whose channels get a TLS client handler (when `tls` is set) and then `handler`.
    func bootstrap<Handler: ChannelHandler>(
        connectTimeout: TimeAmount, tls: (context: TLSContext, serverName: String?)?,
        handler: NIOLoopBound<Handler>
    ) -> ClientBootstrap {
        ClientBootstrap(group: self.eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            TLSClientHandler(context: tls.context, serverName: tls.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
    }

    /// Returns a connection after a complete exchange; it closes after `idleTimeout` unused.
    func release(_ connection: UpstreamConnection, idleTimeout: TimeAmount) {
        connection.finish()
        guard connection.isActive else { return }
        connection.idleDeadline = .now() + idleTimeout
        self.idle[connection.endpointKey, default: []].append(connection)
        self.scheduleSweep()
    }

    func scheduleSweep() {
        guard self.sweep == nil else { return }
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
        self.sweepIdleHTTP2(now: now)
        if !self.idle.isEmpty || !self.http2.isEmpty { self.scheduleSweep() }
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

    /// Closes the idle connections to endpoints that left every cluster (`ip:port`, whatever TLS, protocol or
    /// resolved-address suffix the pool key carries); HTTP/2 connections to them stop taking streams and close once
    /// their streams finish. A connection in use at that moment finishes its exchange and goes back to the pool,
    /// where the idle timeout closes it (no new request picks it: the endpoint is in no cluster).
    func closeIdle(endpoints removed: Set<String>) {
        guard !removed.isEmpty else { return }
        for key in Array(self.idle.keys) {
            guard removed.contains(Self.endpoint(ofPoolKey: key)), let connections = self.idle.removeValue(forKey: key)
            else { continue }
            for connection in connections { connection.close() }
        }
        for key in Array(self.http2.keys) where removed.contains(Self.endpoint(ofPoolKey: key)) {
            let connections = self.http2.removeValue(forKey: key) ?? []
            for connection in connections { connection.retire() }
        }
    }

    /// The `ip:port` a pool key starts with (keys are `ip:port[|tls|sni][|h2][@address]`).
    static func endpoint(ofPoolKey key: String) -> String {
        String(key.prefix { $0 != "|" && $0 != "@" })
    }

    /// Closes every idle connection (shutdown); HTTP/2 connections stop taking streams and close once idle.
    func closeIdle() {
        let all = self.idle.values.flatMap { $0 }
        self.idle.removeAll()
        self.sweep?.cancel()
        self.sweep = nil
        for connection in all { connection.close() }
        let multiplexed = self.http2.values.flatMap { $0 }
        self.http2.removeAll()
        for connection in multiplexed { connection.retire() }
    }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}
