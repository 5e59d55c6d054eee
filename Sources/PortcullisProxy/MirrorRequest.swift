import NIOCore
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

/// A fire-and-forget copy of a request to a mirror cluster (ISTIO-SEMANTICS §2.2 `mirror`/`mirrors`): the
/// response is read and thrown away, failures are only counted, and the client's exchange never waits for it.
/// Current Istio keeps the original Host on mirrored requests.
final class MirrorRequest: UpstreamResponseReceiver {
    private let worker: Worker
    private let runtime: ClusterRuntime
    private let head: ByteBuffer
    private let body: [ByteBuffer]
    private let method: String
    private var connection: UpstreamConnection?
    private var endpointKey: String?
    /// Keeps the mirror alive while its connection works (the connection holds its receiver weakly).
    private var selfReference: MirrorRequest?

    init(worker: Worker, runtime: ClusterRuntime, method: String, head: ByteBuffer, body: [ByteBuffer]) {
        self.worker = worker
        self.runtime = runtime
        self.method = method
        self.head = head
        self.body = body
    }

    func start() {
        let keys = self.runtime.endpointKeys
        let worker = self.worker
        guard !keys.isEmpty,
            let index = self.runtime.balancer.pick(
                active: { worker.activeRequests(endpointKey: keys[$0]) }, excluded: { _ in false })
        else { return }
        let key = keys[index]
        self.endpointKey = key
        self.selfReference = self
        self.worker.requestStarted(endpointKey: key, cluster: self.runtime.cluster.name)
        let runtime = self.runtime
        guard self.worker.poolsPerAddress(index, runtime: runtime) else {
            self.checkoutOrConnect(poolKey: key, address: nil, index: index)
            return
        }
        self.worker.resolveEndpoint(index, runtime: runtime) { result in
            switch result {
            case .success(let address):
                self.checkoutOrConnect(
                    poolKey: "\(key)@\(UpstreamConnection.format(address))", address: address, index: index)
            case .failure:
                self.done(reusable: false)
            }
        }
    }

    /// Reuses an idle connection of `poolKey` or opens one to `address` (nil: the endpoint's, resolved if a name).
    private func checkoutOrConnect(poolKey: String, address: SocketAddress?, index: Int) {
        if let idle = self.worker.pool.checkoutIdle(endpointKey: poolKey) {
            self.send(on: idle)
            return
        }
        let connect: (SocketAddress) -> Void = { address in
            self.worker.pool.connect(
                to: address, endpointKey: poolKey, clusterName: self.runtime.cluster.name,
                connectTimeout: self.runtime.connectTimeout
            ).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let connection): self.send(on: connection)
                case .failure: self.done(reusable: false)
                }
            }
        }
        if let address {
            connect(address)
            return
        }
        self.worker.resolveEndpoint(index, runtime: self.runtime) { result in
            switch result {
            case .success(let address): connect(address)
            case .failure: self.done(reusable: false)
            }
        }
    }

    private func send(on connection: UpstreamConnection) {
        self.connection = connection
        connection.begin(method: self.method, receiver: self)
        connection.write(self.head)
        for part in self.body { connection.write(part) }
        connection.flush()
    }

    private func done(reusable: Bool) {
        if let key = self.endpointKey {
            self.worker.requestEnded(endpointKey: key, cluster: self.runtime.cluster.name)
            self.endpointKey = nil
        }
        if let connection = self.connection {
            self.connection = nil
            if reusable {
                self.worker.pool.release(connection, idleTimeout: .seconds(self.runtime.idleTimeoutSeconds))
            } else {
                connection.close()
            }
        }
        self.selfReference = nil
    }

    private var keepAlive = true

    func upstreamHead(_ head: HTTP1ResponseHead) { self.keepAlive = head.keepAlive }
    func upstreamInformational(_ head: HTTP1ResponseHead) {}
    func upstreamBody(_ body: ByteBuffer) {}
    func upstreamEnd(_ trailers: HTTPHeaderList?) { self.done(reusable: self.keepAlive) }
    func upstreamFailed(_ failure: UpstreamFailure) { self.done(reusable: false) }
    func upstreamReadComplete() {}
    func upstreamWritabilityChanged(_ writable: Bool) {}
    func upstreamTunnelData(_ data: ByteBuffer) { self.done(reusable: false) }
}

@available(*, unavailable)
extension MirrorRequest: Sendable {}

extension ProxyExchange {
    /// Starts the route's mirrors once the whole request is known (bodies beyond the retry buffer are not
    /// mirrored, like Envoy's buffer limit).
    func startMirrors() {
        guard let route = self.route, !route.mirrors.isEmpty, let head = self.upstreamHead,
            let body = self.retainedBody ?? (self.requestBodyBytes == 0 ? [] : nil),
            let snapshot = self.snapshot
        else { return }
        for mirror in route.mirrors {
            guard mirror.perMillion >= 1_000_000 || Int(self.worker.random.next() % 1_000_000) < mirror.perMillion,
                let cluster = snapshot.clusters[mirror.cluster], !cluster.endpoints.isEmpty
            else { continue }
            var framedBody = body
            if self.upstreamChunked {
                framedBody = body.map { part in
                    var framed = self.downstream.allocator.buffer(capacity: part.readableBytes + 16)
                    HTTP1Serializer.writeChunk(part, into: &framed)
                    return framed
                }
                var end = self.downstream.allocator.buffer(capacity: 8)
                HTTP1Serializer.writeLastChunk(trailers: self.requestTrailers, into: &end)
                framedBody.append(end)
            }
            MirrorRequest(
                worker: self.worker, runtime: self.worker.runtime(for: cluster), method: self.head.method,
                head: head, body: framedBody
            ).start()
        }
    }
}
