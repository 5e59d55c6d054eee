import NIOCore
import PortcullisObservability
import PortcullisRouting
import PortcullisTLS

/// First handler on a TLS listener (ISTIO-SEMANTICS §0 step 2): reads the ClientHello without terminating it,
/// chooses the Gateway server by SNI (exact, longest wildcard, catch-all), then rebuilds the pipeline for that
/// server: TLS termination plus HTTP/2 or HTTP/1.1 (by ALPN), TLS termination plus TCP proxying, or raw passthrough by SNI. An
/// unknown SNI, a non-TLS client or a ClientHello that takes longer than 15 s closes the connection.
final class TLSListenerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let worker: Worker
    private let port: Int
    private var buffer: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var decided = false

    /// Envoy's listener-filter timeout when a TLS inspector is present.
    static let helloTimeout = TimeAmount.seconds(15)

    init(worker: Worker, port: Int) {
        self.worker = worker
        self.port = port
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.scheduleTask(in: Self.helloTimeout) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        guard !self.decided else { return }
        if self.buffer == nil {
            self.buffer = incoming
        } else {
            self.buffer!.writeBuffer(&incoming)
        }
        guard let buffer = self.buffer else { return }
        switch ClientHelloParser.parse(buffer) {
        case .needMore:
            return
        case .notTLS:
            context.close(promise: nil)
        case .hello(let serverName, _):
            self.decided = true
            self.timeout?.cancel()
            self.dispatch(context: context, serverName: serverName, buffer: buffer)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event, !self.decided {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func dispatch(context: ChannelHandlerContext, serverName: String?, buffer: ByteBuffer) {
        guard let snapshot = self.worker.snapshot, let listener = snapshot.routing.listener(port: self.port),
            let chain = listener.filterChain(forServerName: serverName)
        else {
            self.refuse(context: context, serverName: serverName, reason: "no filter chain for SNI")
            return
        }
        let key = TLSMaterial.ServerKey(gateway: chain.server.gateway, index: chain.server.index)
        let pipeline = context.pipeline.syncOperations
        do {
            switch chain.mode {
            case .terminateHTTP:
                guard let tls = snapshot.tls.servers[key] else {
                    self.refuse(context: context, serverName: serverName, reason: "no TLS context for \(key)")
                    return
                }
                try pipeline.addHandlers(
                    [
                        TLSServerHandler(context: tls),
                        ALPNCodecSelector(worker: self.worker, port: self.port, serverKey: key),
                    ], position: .after(self))
                context.fireChannelRead(self.wrapInboundOut(buffer))
            case .terminateTCP(let route):
                guard let tls = snapshot.tls.servers[key], let route else {
                    self.refuse(context: context, serverName: serverName, reason: "no tcp route for \(key)")
                    return
                }
                let destination = route.pick(self.worker.random.next())
                try pipeline.addHandlers(
                    [
                        TLSServerHandler(context: tls),
                        TCPProxySession(worker: self.worker, destination: destination, serverName: serverName, initialBytes: nil),
                    ], position: .after(self))
                context.fireChannelRead(self.wrapInboundOut(buffer))
            case .passthrough(let routes):
                guard let match = routes.route(forServerName: serverName) else {
                    self.refuse(context: context, serverName: serverName, reason: "no tls route for SNI")
                    return
                }
                let destination = match.pick(self.worker.random.next())
                try pipeline.addHandler(
                    TCPProxySession(worker: self.worker, destination: destination, serverName: serverName, initialBytes: buffer),
                    position: .after(self))
            case .plainTCP(let route):
                guard let route else {
                    self.refuse(context: context, serverName: serverName, reason: "no tcp route")
                    return
                }
                try pipeline.addHandler(
                    TCPProxySession(
                        worker: self.worker, destination: route.pick(self.worker.random.next()), serverName: nil,
                        initialBytes: buffer),
                    position: .after(self))
            }
            self.buffer = nil
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    /// Closes the connection for an SNI nothing serves (curl sees exit 35), with an access-log line.
    private func refuse(context: ChannelHandlerContext, serverName: String?, reason: String) {
        var record = RequestRecord()
        record.startTime = .init()
        record.protocolName = "TLS"
        record.requestedServerName = serverName
        record.responseFlags = [.noRouteFound]
        record.responseCodeDetails = reason
        record.downstreamRemoteAddress = context.channel.remoteAddress.map(UpstreamConnection.format)
        record.downstreamLocalAddress = context.channel.localAddress.map(UpstreamConnection.format)
        self.worker.services.accessLog.log(record)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TLSListenerHandler: Sendable {}

/// Creates the first handler of TLS and TCP listeners for the server's channel initializers.
public enum ListenerHandlerFactory {
    /// For `.tls` listeners: ClientHello inspection first.
    public static func tls(worker: Worker, port: Int) -> any ChannelHandler {
        TLSListenerHandler(worker: worker, port: port)
    }

    /// For `.tcp` listeners: straight to the listener's TCP route; nil when it has none (refuse the connection).
    public static func tcp(worker: Worker, port: Int) -> (any ChannelHandler)? {
        guard let listener = worker.snapshot?.routing.listener(port: port),
            let chain = listener.filterChain(forServerName: nil), case .plainTCP(let route?) = chain.mode
        else { return nil }
        return TCPProxySession(
            worker: worker, destination: route.pick(worker.random.next()), serverName: nil, initialBytes: nil)
    }
}
