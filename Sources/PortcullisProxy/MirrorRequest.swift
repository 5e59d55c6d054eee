import NIOCore
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

/// A fire-and-forget copy of a request to a mirror cluster (ISTIO-SEMANTICS §2.2 `mirror`/`mirrors`): the
/// response is read and thrown away, failures are only counted, and the client's exchange never waits for it.
/// Current Istio keeps the original Host on mirrored requests. It reaches the mirror cluster the way requests
/// do (`Worker.acquireUpstream`), in the cluster's HTTP version.
final class MirrorRequest: UpstreamResponseReceiver {
    private let worker: Worker
    private let runtime: ClusterRuntime
    private let request: UpstreamRequest
    private let body: [ByteBuffer]
    private let trailers: HTTPHeaderList?
    private var connection: (any UpstreamTransport)?
    private var endpointKey: String?
    /// Keeps the mirror alive while its connection works (the connection holds its receiver weakly).
    private var selfReference: MirrorRequest?
    private var keepAlive = true

    init(
        worker: Worker, runtime: ClusterRuntime, request: UpstreamRequest, body: [ByteBuffer],
        trailers: HTTPHeaderList?
    ) {
        self.worker = worker
        self.runtime = runtime
        self.request = request
        self.body = body
        self.trailers = trailers
    }

    func start(http2: Bool) {
        let keys = self.runtime.endpointKeys
        let worker = self.worker
        guard !keys.isEmpty,
            let index = self.runtime.balancer.pick(
                active: { worker.activeRequests(endpointKey: keys[$0]) }, excluded: { _ in false })
        else { return }
        self.endpointKey = keys[index]
        self.selfReference = self
        self.worker.requestStarted(endpointKey: keys[index], cluster: self.runtime.cluster.name)
        // Mirrors keep the original Host, so no TLS identity from a rewritten authority: the rule's `sni` only.
        let tls = self.worker.snapshot?.tls.context(cluster: self.runtime.cluster.name, http2: http2).map {
            (context: $0, serverName: self.runtime.cluster.tls?.sni)
        }
        let target = UpstreamTarget(runtime: self.runtime, endpointIndex: index, tls: tls, http2: http2)
        self.worker.acquireUpstream(target) { result in
            switch result {
            case .success(let (transport, _)): self.send(on: transport)
            case .failure: self.done(reusable: false)
            }
        }
    }

    private func send(on connection: any UpstreamTransport) {
        self.connection = connection
        let allocator = ByteBufferAllocator()
        connection.begin(method: self.request.method, receiver: self)
        let headOnly = self.body.isEmpty && (self.trailers?.count ?? 0) == 0
        connection.sendHead(self.request, endStream: headOnly, allocator: allocator)
        for part in self.body { connection.sendBody(part, allocator: allocator) }
        if !headOnly { connection.sendEnd(trailers: self.trailers, allocator: allocator) }
        connection.flush()
    }

    private func done(reusable: Bool) {
        if let key = self.endpointKey {
            self.worker.requestEnded(endpointKey: key, cluster: self.runtime.cluster.name)
            self.endpointKey = nil
        }
        if let connection = self.connection {
            self.connection = nil
            connection.complete(reusable: reusable, idleTimeout: .seconds(self.runtime.idleTimeoutSeconds))
        }
        self.selfReference = nil
    }

    func upstreamHead(_ head: HTTP1ResponseHead) { self.keepAlive = head.keepAlive }
    func upstreamInformational(_ head: HTTP1ResponseHead) {}
    func upstreamBody(_ body: ByteBuffer) {}
    func upstreamEnd(_ trailers: HTTPHeaderList?) { self.done(reusable: self.keepAlive) }
    func upstreamFailed(_ failure: UpstreamFailure) {
        self.connection = nil
        self.done(reusable: false)
    }
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
        guard let route = self.route, !route.mirrors.isEmpty, let request = self.upstreamRequest,
            let body = self.retainedBody ?? (self.requestBodyBytes == 0 ? [] : nil),
            let snapshot = self.snapshot
        else { return }
        for mirror in route.mirrors {
            guard mirror.perMillion >= 1_000_000 || Int(self.worker.random.next() % 1_000_000) < mirror.perMillion,
                let cluster = snapshot.clusters[mirror.cluster], !cluster.endpoints.isEmpty
            else { continue }
            var mirrored = request
            mirrored.scheme = snapshot.tls.clusters[cluster.name] == nil ? "http" : "https"
            MirrorRequest(
                worker: self.worker, runtime: self.worker.runtime(for: cluster), request: mirrored, body: body,
                trailers: self.requestTrailers
            ).start(http2: self.speaksHTTP2(cluster))
        }
    }
}
