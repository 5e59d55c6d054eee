import NIOCore
import NIOPosix
import PortcullisObservability
import PortcullisRouting
import PortcullisUpstream

/// Connects a downstream connection to an endpoint of a TCP or TLS-passthrough route's cluster, then splices the
/// two with `GlueHandler`s (ISTIO-SEMANTICS §2.10). Bytes that arrive before the upstream is connected (the
/// ClientHello, for passthrough) are held and sent first. Connect failures try up to two other endpoints, then the
/// client connection is closed, as Envoy's TCP proxy does.
final class TCPProxySession: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let worker: Worker
    private let destination: WeightedDestination
    private let serverName: String?
    private var pending: [ByteBuffer]
    private var context: ChannelHandlerContext?
    private var tried: [Int] = []
    private var record = RequestRecord()
    private var closed = false
    private var pendingBytes = 0

    init(worker: Worker, destination: WeightedDestination, serverName: String?, initialBytes: ByteBuffer?) {
        self.worker = worker
        self.destination = destination
        self.serverName = serverName
        self.pending = initialBytes.map { [$0] } ?? []
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.record.startTime = .init()
        self.record.protocolName = "TCP"
        self.record.requestedServerName = self.serverName
        self.record.upstreamCluster = self.destination.cluster.description
        self.record.downstreamRemoteAddress = context.channel.remoteAddress.map(UpstreamConnection.format)
        self.record.downstreamLocalAddress = context.channel.localAddress.map(UpstreamConnection.format)
        if context.channel.isActive { self.connect() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.connect()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.pending.append(buffer)
        self.pendingBytes += buffer.readableBytes
        // Hold at most 64 KiB while connecting; the glue resumes reading once spliced.
        if self.pendingBytes > 64 * 1024 {
            _ = try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private var started = false

    private func connect() {
        guard !self.started else { return }
        self.started = true
        self.attempt()
    }

    private func attempt() {
        guard !self.closed, let context = self.context else { return }
        guard let snapshot = self.worker.snapshot, let cluster = snapshot.clusters[self.destination.cluster] else {
            self.record.egressRefusal = .noServiceEntry
            self.fail(flags: .noClusterFound, reason: "no cluster \(self.destination.cluster)")
            return
        }
        if cluster.location == .meshExternal { self.record.serviceEntry = cluster.serviceEntry }
        let runtime = self.worker.runtime(for: cluster)
        let keys = runtime.endpointKeys
        let worker = self.worker
        let tried = self.tried
        guard
            let index = runtime.balancer.pick(
                active: { worker.activeRequests(endpointKey: keys[$0]) }, ejected: { _ in false },
                tried: { tried.contains($0) })
        else {
            self.fail(flags: .noHealthyUpstream, reason: "no healthy upstream")
            return
        }
        let endpoint = cluster.endpoints[index]
        self.record.upstreamHost = keys[index]
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
        let loop = self.worker.eventLoop
        let boundGlue = NIOLoopBound(upstreamGlue, eventLoop: loop)
        let onConnected: (Result<Channel, Error>) -> Void = { result in
            switch result {
            case .success(let channel):
                self.spliced(context: context, upstream: channel, downstreamGlue: downstreamGlue)
            case .failure(let error):
                self.tried.append(index)
                self.record.upstreamTransportFailureReason = "\(error)"
                if self.tried.count < min(3, cluster.endpoints.count) {
                    self.attempt()
                } else {
                    self.fail(flags: .upstreamConnectionFailure, reason: "\(error)")
                }
            }
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(runtime.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(boundGlue.value)
                }
            }
        let connect: (SocketAddress) -> Void = { address in
            bootstrap.connect(to: address).assumeIsolated().whenComplete(onConnected)
        }
        self.worker.resolveEndpoint(index, runtime: runtime) { result in
            switch result {
            case .success(let address):
                if cluster.needsDNS { self.record.upstreamHost = UpstreamConnection.format(address) }
                connect(address)
            case .failure:
                onConnected(.failure(TCPProxyError("dns resolution of \(endpoint.address) failed")))
            }
        }
    }

    private func spliced(context: ChannelHandlerContext, upstream: Channel, downstreamGlue: GlueHandler) {
        guard !self.closed else {
            upstream.close(promise: nil)
            return
        }
        self.record.upstreamLocalAddress = upstream.localAddress.map(UpstreamConnection.format)
        var record = self.record
        let services = self.worker.services
        let start = NIODeadline.now()
        let upstreamGlue = try? upstream.pipeline.syncOperations.handler(type: GlueHandler.self)
        downstreamGlue.onClose = { [downstreamGlue] in
            record.bytesReceived = downstreamGlue.bytesIn
            record.bytesSent = upstreamGlue?.bytesIn ?? 0
            record.durationMs = Int((NIODeadline.now() - start).nanoseconds / 1_000_000)
            services.accessLog.log(record)
            services.metrics.recordEgress(record, mode: .gateway)
        }
        for buffer in self.pending {
            upstream.write(buffer, promise: nil)
        }
        self.pending.removeAll()
        upstream.flush()
        do {
            try context.pipeline.syncOperations.addHandler(downstreamGlue, position: .after(self))
            downstreamGlue.track(
                worker: self.worker, listenerPort: context.channel.localAddress?.port ?? 0,
                idleTimeout: self.idleTimeout)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }

    /// The cluster's idle timeout (DestinationRule `connectionPool.tcp.idleTimeout`, else 1 h; `0s` = never).
    private var idleTimeout: TimeAmount {
        guard let cluster = self.worker.snapshot?.clusters[self.destination.cluster] else { return .hours(1) }
        return TimeAmount(cluster.limits.idleTimeout)
    }

    private func fail(flags: ResponseFlags, reason: String) {
        self.record.responseFlags.insert(flags)
        self.record.upstreamTransportFailureReason = reason
        self.worker.services.accessLog.log(self.record)
        self.worker.services.metrics.recordEgress(self.record, mode: .gateway)
        self.context?.close(promise: nil)
    }
}

struct TCPProxyError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@available(*, unavailable)
extension TCPProxySession: Sendable {}
