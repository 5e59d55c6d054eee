import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortcullisControlPlane
import PortcullisModel
import PortcullisObservability
import PortcullisProxy
import PortcullisRouting
import PortcullisUpstream
import PortcullisXDS

/// Options of `portcullis run`.
public struct GatewayOptions: Sendable {
    public var configPaths: [String]
    /// Config from a Kubernetes API server instead of `configPaths` (`--kubernetes`, `--kubeconfig`).
    public var kubernetes: KubernetesSourceOptions?
    /// Config from istiod over ADS instead (`--xds-address`).
    public var xds: XDSSourceOptions?
    public var adminHost = "127.0.0.1"
    public var adminPort = 15000
    public var concurrency = System.coreCount
    /// nil = every Gateway applies.
    public var labels: [String: String]?
    public var namespace = "istio-system"
    public var drainSeconds = 5
    /// Address for Gateway servers without `bind` (Istio binds all addresses).
    public var listenAddress = "0.0.0.0"
    public var accessLog: AccessLogger.Destination = .stdout
    public var accessLogFormat: AccessLogFormat = .text
    public var reloadInterval: Duration = .milliseconds(500)
    /// Data-plane limits (downstream HTTP/2 settings among them).
    public var limits = ProxyLimits()
    /// `--dns-server` values (`IP[:PORT]`, `[IPv6]:PORT`); when set they replace resolv.conf's nameservers.
    public var dnsServers: [String] = []
    public var resolvConfPath = "/etc/resolv.conf"
    public var hostsPath = "/etc/hosts"

    public init(configPaths: [String]) {
        self.configPaths = configPaths
    }

    /// Whether `text` is a valid `--dns-server` value.
    public static func isValidDNSServer(_ text: String) -> Bool { DNSSetup.isValidServer(text) }
}

/// Where and how to watch a Kubernetes API server.
public struct KubernetesSourceOptions: Sendable {
    /// The API server and credentials.
    public var cluster: KubernetesClusterConfig
    /// Watch Istio objects, Services, EndpointSlices and Pods only in this namespace; nil = all namespaces.
    public var watchNamespace: String?
    /// The mesh root namespace, where ConfigMap `istio` (the mesh config) is read; nil does not read it.
    public var meshNamespace: String? = "istio-system"
    /// The shortest watch timeout asked of the server (each watch asks for a random value up to twice this).
    public var minimumWatchTimeoutSeconds = 300
    /// Retry delays after API errors.
    public var backoff = KubernetesBackoff()

    public init(cluster: KubernetesClusterConfig, watchNamespace: String? = nil) {
        self.cluster = cluster
        self.watchNamespace = watchNamespace
    }
}

/// The composition root (ARCHITECTURE layer 5): event loops, config snapshots, listeners, admin, signals, drain.
public final class GatewayServer: Sendable {
    enum Readiness: Sendable {
        case starting
        case serving
        case draining
    }

    struct State: Sendable {
        var readiness = Readiness.starting
        var snapshot: GatewaySnapshot?
        var loadedAt: String?
        var lastRejected: [ConfigDiagnostic] = []
        /// Stamps of the certificate files the active config references (rotation check).
        var certificateStamp = ""
        /// The Kubernetes source, when config comes from an API server (readiness and metrics read its health).
        var kubernetes: KubernetesConfigSource?
        /// The xDS source, when config comes from istiod.
        var xds: XDSConfigSource?
        /// API failures already counted in the watch-error metric.
        var countedFailures = 0
    }

    public let options: GatewayOptions
    let logger: Logger
    let state = NIOLockedValueBox(State())
    let metrics: GatewayMetrics
    let controlPlane: ControlPlaneMetrics

    public init(options: GatewayOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        self.metrics = GatewayMetrics(gatewayName: "portcullis", namespace: options.namespace)
        self.controlPlane = ControlPlaneMetrics(self.metrics)
    }

    var builder: SnapshotBuilder {
        SnapshotBuilder(
            options: RoutingOptions(gatewayLabels: self.options.labels, gatewayNamespace: self.options.namespace))
    }

    /// Runs until SIGTERM/SIGINT, then drains. Returns the process exit code.
    public func run() async throws -> Int32 {
        if let kubernetes = self.options.kubernetes { return try await self.runKubernetes(kubernetes) }
        if let xds = self.options.xds { return try await self.runXDS(xds) }
        let source = FileConfigSource(
            paths: self.options.configPaths, loader: ConfigLoader(), interval: self.options.reloadInterval)
        let firstLoad = source.load()
        let first = self.builder.build(firstLoad)
        self.report(first.diagnostics)
        source.extraFiles.withLockedValue { $0 = CertificateFiles.referenced(by: firstLoad.config) }
        guard let initial = first.snapshot else {
            self.logger.critical("configuration rejected; not starting", metadata: ["errors": "\(first.errors.count)"])
            return 1
        }

        let plumbing = try await Plumbing.start(self)
        let initialFiles = source.extraFiles.withLockedValue { $0 }
        self.state.withLockedValue { $0.certificateStamp = CertificateFiles.stamp(initialFiles) }
        let bindProblems = try await self.install(initial, plumbing)
        if !bindProblems.isEmpty {
            // A gateway that cannot open a configured port at start is not the gateway the config describes:
            // fail loudly (exit 1) instead of reporting ready. On reload the old listeners keep serving instead.
            self.logger.critical("cannot bind every listener; not starting", metadata: ["problems": "\(bindProblems)"])
            await plumbing.shutdown()
            return 1
        }
        await plumbing.egress.apply(config: initial.config)
        self.state.withLockedValue { $0.readiness = .serving }
        self.logger.info("serving", metadata: ["version": "\(initial.version)"])

        let reloadTask = Task {
            var skippedFirst = false
            for await loaded in source.updates() {
                if !skippedFirst {
                    skippedFirst = true
                    continue
                }
                await self.reload(loaded, endpoints: ServiceEndpoints(), files: source, plumbing)
            }
        }

        await SignalWaiter.waitForTermination()
        reloadTask.cancel()
        await self.stop(plumbing)
        return 0
    }

    /// Drains and releases everything after a termination signal.
    func stop(_ plumbing: Plumbing) async {
        self.logger.info("termination signal: draining", metadata: ["drain_seconds": "\(self.options.drainSeconds)"])
        await plumbing.egress.closeAll()
        await self.drain(plumbing)
        await plumbing.shutdown()
        self.logger.info("stopped")
    }

    private func drain(_ plumbing: Plumbing) async {
        self.state.withLockedValue { $0.readiness = .draining }
        plumbing.services.startDraining()
        await plumbing.listeners.closeAll()
        _ = try? await plumbing.workers.forEach { $0.startDrain() }?.get()
        let deadline = ContinuousClock.now + .seconds(self.options.drainSeconds)
        while ContinuousClock.now < deadline {
            let open = (try? await plumbing.workers.connectionCount()?.get()) ?? 0
            if open == 0 { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func report(_ diagnostics: [ConfigDiagnostic]) {
        for diagnostic in diagnostics {
            switch diagnostic.severity {
            case .error: self.logger.error("\(diagnostic)")
            case .warning: self.logger.warning("\(diagnostic)")
            }
        }
    }
}

/// The running parts every config source shares: event loops, workers, listeners, admin, access log.
struct Plumbing: Sendable {
    let group: MultiThreadedEventLoopGroup
    let threadPool: NIOThreadPool
    let accessLog: AccessLogger
    let services: ProxyServices
    let workers: WorkerSet
    let listeners: ListenerManager
    let egress: ForwardProxyListeners
    let admin: any Channel

    static func start(_ server: GatewayServer) async throws -> Plumbing {
        let options = server.options
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.concurrency))
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let accessLog = try AccessLogger(destination: options.accessLog, format: options.accessLogFormat)
        let services = ProxyServices(
            metrics: server.metrics, accessLog: accessLog,
            dns: DNSSetup.makeCache(options: options, group: group, threadPool: threadPool, logger: server.logger),
            limits: options.limits)
        let workers = WorkerSet(group: group, services: services)
        let listeners = ListenerManager(
            group: group, workers: workers, defaultBind: options.listenAddress, logger: server.logger)
        let admin = try await AdminServer.bind(
            host: options.adminHost, port: options.adminPort, group: group, source: server)
        server.logger.info("admin listening", metadata: ["address": "\(admin.localAddress?.description ?? "?")"])
        let egress = await ForwardProxyListeners.start(ConfigSet(), group, workers, options, server.logger)
        return Plumbing(
            group: group, threadPool: threadPool, accessLog: accessLog, services: services, workers: workers,
            listeners: listeners, egress: egress, admin: admin)
    }

    func shutdown() async {
        await self.listeners.closeAll()
        try? await self.admin.close()
        self.accessLog.flush()
        self.accessLog.shutdown()
        try? await self.threadPool.shutdownGracefully()
        try? await self.group.shutdownGracefully()
    }
}
