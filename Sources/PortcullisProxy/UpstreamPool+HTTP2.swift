import NIOCore
import NIOPosix
import PortcullisHTTP2
import PortcullisTLS

/// HTTP/2 upstreams: one multiplexed connection per endpoint per event loop until its stream limit, then another
/// (ISSUE 4 "Upstream"), each counted once against the cluster's `maxConnections`.
extension UpstreamPool {
    /// Settings and limits for new HTTP/2 connections of one cluster.
    struct HTTP2Options {
        var streamLimit: Int
        var requestLimit: Int
        var idleTimeout: TimeAmount
        var settings: HTTP2Settings
    }

    /// A stream on an existing connection to `poolKey` (live or still connecting) with room for one more request.
    func checkoutHTTP2(poolKey: String) -> UpstreamHTTP2Stream? {
        guard let list = self.http2[poolKey] else { return nil }
        for connection in list where connection.canTakeStream {
            return connection.reserve()
        }
        return nil
    }

    /// Opens a new HTTP/2 connection and reserves its first stream. The connection joins the pool at once, so
    /// requests arriving while it connects share it instead of opening more; `ready` completes once it can send.
    func connectHTTP2(
        to address: SocketAddress, poolKey: String, clusterName: String, connectTimeout: TimeAmount,
        tls: (context: TLSContext, serverName: String?)?, options: HTTP2Options
    ) -> UpstreamHTTP2Stream? {
        guard let session = try? HTTP2ClientSession(settings: options.settings) else { return nil }
        let loop = self.eventLoop
        let connection = UpstreamHTTP2Connection(
            poolKey: poolKey, clusterName: clusterName, eventLoop: loop, session: session,
            streamLimit: options.streamLimit, requestLimit: options.requestLimit, idleTimeout: options.idleTimeout)
        connection.pool = self
        connection.awaitingTLS = tls != nil
        self.openPerCluster[clusterName, default: 0] += 1
        self.http2[poolKey, default: []].append(connection)
        self.scheduleSweep()
        let stream = connection.reserve()
        let bound = NIOLoopBound(connection, eventLoop: loop)
        self.bootstrap(connectTimeout: connectTimeout, tls: tls, handler: bound)
            .connect(to: address)
            .assumeIsolated()
            .whenFailure { error in
                let connection = bound.value
                connection.pool?.http2ConnectionClosed(connection)
                connection.failReady(error)
            }
        return stream
    }

    /// The server sent GOAWAY: no new streams go to this connection.
    func http2ConnectionRetiring(_ connection: UpstreamHTTP2Connection) {
        self.forget(connection)
    }

    /// Called when a connection's channel goes away (or never connected); safe to call twice.
    func http2ConnectionClosed(_ connection: UpstreamHTTP2Connection) {
        self.forget(connection)
        guard connection.pool === self else { return }
        connection.pool = nil
        if let n = self.openPerCluster[connection.clusterName] {
            self.openPerCluster[connection.clusterName] = n > 1 ? n - 1 : nil
        }
    }

    private func forget(_ connection: UpstreamHTTP2Connection) {
        guard var list = self.http2[connection.poolKey],
            let index = list.firstIndex(where: { $0 === connection })
        else { return }
        list.remove(at: index)
        self.http2[connection.poolKey] = list.isEmpty ? nil : list
    }

    /// Closes HTTP/2 connections that had no stream for their idle timeout.
    func sweepIdleHTTP2(now: NIODeadline) {
        var expired: [UpstreamHTTP2Connection] = []
        for list in self.http2.values {
            for connection in list where connection.isReady && connection.isIdle {
                if connection.idleTimeout > .zero && connection.idleSince + connection.idleTimeout <= now {
                    expired.append(connection)
                }
            }
        }
        for connection in expired {
            self.forget(connection)
            connection.retire()
        }
    }

    /// Open HTTP/2 connections (for tests and the admin dump).
    var http2ConnectionCount: Int { self.http2.values.reduce(0) { $0 + $1.count } }
}
