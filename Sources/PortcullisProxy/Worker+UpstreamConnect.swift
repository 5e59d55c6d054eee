import NIOCore
import PortcullisTLS
import PortcullisUpstream

/// Where one request goes: an endpoint of a cluster, with the TLS identity and the HTTP version to speak.
struct UpstreamTarget {
    let runtime: ClusterRuntime
    let endpointIndex: Int
    let tls: (context: TLSContext, serverName: String?)?
    let http2: Bool

    var cluster: Cluster { self.runtime.cluster }
    var endpoint: Endpoint { self.runtime.cluster.endpoints[self.endpointIndex] }
    var endpointKey: String { self.runtime.endpointKeys[self.endpointIndex] }
    /// Connections are shared only between requests with the same endpoint, TLS identity and protocol.
    var poolKey: String {
        var key = self.endpointKey
        if let tls { key += "|tls|" + (tls.serverName ?? "") }
        if self.http2 { key += "|h2" }
        return key
    }
}

/// Why no upstream transport could be had.
enum UpstreamAcquireError: Error {
    /// `maxConnections` reached (503 UO).
    case overflow
    /// DNS, TCP connect or TLS failed (503 UF), with the reason for the access log.
    case connectFailed(String)
}

extension Worker {
    /// The one way requests (and mirrors) reach an endpoint: reuse an idle HTTP/1.1 connection or an HTTP/2
    /// connection with a free stream, else resolve the endpoint (off the loop when it is a DNS name) and connect.
    /// `completion` runs on this loop, at once when a connection was ready; `reused` is true for a kept-alive
    /// HTTP/1.1 connection (whose early close may be answered by resending once).
    func acquireUpstream(
        _ target: UpstreamTarget,
        completion: @escaping (Result<(transport: any UpstreamTransport, reused: Bool), UpstreamAcquireError>) -> Void
    ) {
        let index = target.endpointIndex
        guard self.poolsPerAddress(index, runtime: target.runtime) else {
            self.acquire(target, poolKey: target.poolKey, address: nil, completion: completion)
            return
        }
        // `resolution: DNS`: each resolved address is an endpoint of its own, chosen first and pooled apart.
        self.resolveEndpoint(index, runtime: target.runtime) { result in
            switch result {
            case .success(let address):
                let poolKey = target.poolKey + "@" + UpstreamConnection.format(address)
                self.acquire(target, poolKey: poolKey, address: address, completion: completion)
            case .failure(let error):
                completion(.failure(.connectFailed("dns resolution failed: \(error)")))
            }
        }
    }

    /// Reuses a connection of `poolKey` or connects to `address` (nil: the endpoint's own, resolved if a name).
    private func acquire(
        _ target: UpstreamTarget, poolKey: String, address: SocketAddress?,
        completion: @escaping (Result<(transport: any UpstreamTransport, reused: Bool), UpstreamAcquireError>) -> Void
    ) {
        if target.http2 {
            if let stream = self.pool.checkoutHTTP2(poolKey: poolKey) {
                self.whenReady(stream, completion: completion)
                return
            }
        } else if let idle = self.pool.checkoutIdle(endpointKey: poolKey) {
            completion(.success((idle, true)))
            return
        }
        if self.pool.openConnections(cluster: target.cluster.name) >= target.cluster.limits.maxConnections {
            completion(.failure(.overflow))
            return
        }
        if let address {
            self.connect(target, poolKey: poolKey, to: address, completion: completion)
            return
        }
        self.resolveEndpoint(target.endpointIndex, runtime: target.runtime) { result in
            switch result {
            case .success(let address):
                self.connect(target, poolKey: poolKey, to: address, completion: completion)
            case .failure(let error):
                completion(.failure(.connectFailed("dns resolution failed: \(error)")))
            }
        }
    }

    /// A new connection to `address`, bypassing the idle pool (also used to resend on a fresh connection).
    func connect(
        _ target: UpstreamTarget, poolKey: String? = nil, to address: SocketAddress,
        completion: @escaping (Result<(transport: any UpstreamTransport, reused: Bool), UpstreamAcquireError>) -> Void
    ) {
        let runtime = target.runtime
        let poolKey = poolKey ?? target.poolKey
        if target.http2 {
            guard
                let stream = self.pool.connectHTTP2(
                    to: address, poolKey: poolKey, clusterName: target.cluster.name,
                    connectTimeout: runtime.connectTimeout, tls: target.tls, options: runtime.http2Options)
            else {
                completion(.failure(.connectFailed("cannot create an HTTP/2 session")))
                return
            }
            self.services.metrics.counter(
                "portcullis_upstream_http2_connections_opened_total",
                help: "HTTP/2 connections opened to upstream endpoints", labels: [("cluster", target.cluster.name)]
            ).increment()
            self.whenReady(stream, completion: completion)
            return
        }
        self.pool.connect(
            to: address, endpointKey: poolKey, clusterName: target.cluster.name,
            connectTimeout: runtime.connectTimeout, tls: target.tls
        ).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection): completion(.success((connection, false)))
            case .failure(let error): completion(.failure(.connectFailed("\(error)")))
            }
        }
    }

    private func whenReady(
        _ stream: UpstreamHTTP2Stream,
        completion: @escaping (Result<(transport: any UpstreamTransport, reused: Bool), UpstreamAcquireError>) -> Void
    ) {
        if stream.connectionIsReady {
            completion(.success((stream, false)))
            return
        }
        stream.connectionReady.assumeIsolated().whenComplete { result in
            switch result {
            case .success: completion(.success((stream, false)))
            case .failure(let error):
                stream.abort()
                completion(.failure(.connectFailed("\(error)")))
            }
        }
    }
}
