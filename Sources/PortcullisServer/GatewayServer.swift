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

/// Options of `portcullis run`.
public struct GatewayOptions: Sendable {
    public var configPaths: [String]
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
    /// Data-plane limits (timeouts, buffers).
    public var limits = ProxyLimits()

    public init(configPaths: [String]) {
        self.configPaths = configPaths
    }
}

/// The composition root (ARCHITECTURE layer 5): event loops, config snapshots, listeners, admin, signals, drain.
public final class GatewayServer: Sendable {
    enum Readiness: Sendable {
        case starting
        case serving
        case draining
    }

    private struct State: Sendable {
        var readiness = Readiness.starting
        var snapshot: GatewaySnapshot?
        var loadedAt: String?
        var lastRejected: [ConfigDiagnostic] = []
        /// Stamps of the certificate files the active config references (rotation check).
        var certificateStamp = ""
    }

    public let options: GatewayOptions
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let metrics: GatewayMetrics

    public init(options: GatewayOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        self.metrics = GatewayMetrics(gatewayName: "portcullis", namespace: options.namespace)
    }

    private var builder: SnapshotBuilder {
        SnapshotBuilder(
            options: RoutingOptions(gatewayLabels: self.options.labels, gatewayNamespace: self.options.namespace))
    }

    /// Runs until SIGTERM/SIGINT, then drains. Returns the process exit code.
    public func run() async throws -> Int32 {
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

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, self.options.concurrency))
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let accessLog = try AccessLogger(destination: self.options.accessLog, format: self.options.accessLogFormat)
        let services = ProxyServices(
            metrics: self.metrics, accessLog: accessLog, dns: DNSCache(threadPool: threadPool),
            limits: self.options.limits)
        let workers = WorkerSet(group: group, services: services)
        let listeners = ListenerManager(
            group: group, workers: workers, defaultBind: self.options.listenAddress, logger: self.logger)

        let admin = try await AdminServer.bind(
            host: self.options.adminHost, port: self.options.adminPort, group: group, source: self)
        self.logger.info("admin listening", metadata: ["address": "\(admin.localAddress?.description ?? "?")"])

        let initialFiles = source.extraFiles.withLockedValue { $0 }
        self.state.withLockedValue { $0.certificateStamp = CertificateFiles.stamp(initialFiles) }
        let bindProblems = try await self.install(initial, workers: workers, listeners: listeners)
        if !bindProblems.isEmpty {
            // A gateway that cannot open a configured port at start is not the gateway the config describes:
            // fail loudly (exit 1) instead of reporting ready. On reload the old listeners keep serving instead.
            self.logger.critical("cannot bind every listener; not starting", metadata: ["problems": "\(bindProblems)"])
            await listeners.closeAll()
            try? await admin.close()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            return 1
        }
        let egress = await ForwardProxyListeners.start(initial.config, group, workers, self.options, self.logger)
        self.state.withLockedValue { $0.readiness = .serving }
        self.logger.info("serving", metadata: ["version": "\(initial.version)"])

        let reloadTask = Task {
            var skippedFirst = false
            for await loaded in source.updates() {
                if !skippedFirst {
                    skippedFirst = true
                    continue
                }
                await self.reload(loaded, source: source, workers: workers, listeners: listeners)
                await egress.apply(config: self.state.withLockedValue { $0.snapshot?.config } ?? initial.config)
            }
        }

        await SignalWaiter.waitForTermination()
        self.logger.info("termination signal: draining", metadata: ["drain_seconds": "\(self.options.drainSeconds)"])
        reloadTask.cancel()
        await egress.closeAll()
        await self.drain(workers: workers, listeners: listeners, services: services)
        try? await admin.close()
        accessLog.flush()
        accessLog.shutdown()
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        self.logger.info("stopped")
        return 0
    }

    /// Installs a snapshot and binds its listeners; returns the listeners that could not be bound.
    @discardableResult
    private func install(
        _ snapshot: GatewaySnapshot, workers: WorkerSet, listeners: ListenerManager
    ) async throws -> [String] {
        try await workers.install(snapshot)?.get()
        let problems = await listeners.apply(snapshot.routing)
        for problem in problems { self.logger.error("\(problem)") }
        self.state.withLockedValue {
            $0.snapshot = snapshot
            $0.loadedAt = ISO8601DateFormatter().string(from: Date())
        }
        self.metrics.setConfigVersion(snapshot.version)
        return problems
    }

    private func reload(
        _ loaded: ConfigLoadResult, source: FileConfigSource, workers: WorkerSet, listeners: ListenerManager
    ) async {
        let outcome = self.builder.build(loaded)
        guard let snapshot = outcome.snapshot else {
            self.report(outcome.diagnostics)
            self.metrics.configReloaded(success: false)
            self.state.withLockedValue { $0.lastRejected = outcome.errors }
            self.logger.error(
                "configuration rejected; keeping the previous one",
                metadata: ["errors": "\(outcome.errors.count)"])
            return
        }
        let files = CertificateFiles.referenced(by: loaded.config)
        source.extraFiles.withLockedValue { $0 = files }
        let stamp = CertificateFiles.stamp(files)
        let (current, currentStamp) = self.state.withLockedValue { ($0.snapshot, $0.certificateStamp) }
        if let current, current.config == snapshot.config, currentStamp == stamp {
            return  // nothing changed (e.g. a file touched without edits)
        }
        self.state.withLockedValue { $0.certificateStamp = stamp }
        self.report(outcome.diagnostics)
        do {
            try await self.install(snapshot, workers: workers, listeners: listeners)
            self.state.withLockedValue { $0.lastRejected = [] }
            self.metrics.configReloaded(success: true)
            self.logger.info("configuration reloaded", metadata: ["version": "\(snapshot.version)"])
        } catch {
            self.metrics.configReloaded(success: false)
            self.logger.error("reload failed", metadata: ["error": "\(error)"])
        }
    }

    private func drain(workers: WorkerSet, listeners: ListenerManager, services: ProxyServices) async {
        self.state.withLockedValue { $0.readiness = .draining }
        services.startDraining()
        await listeners.closeAll()
        _ = try? await workers.forEach { $0.startDrain() }?.get()
        let deadline = ContinuousClock.now + .seconds(self.options.drainSeconds)
        while ContinuousClock.now < deadline {
            let open = (try? await workers.connectionCount()?.get()) ?? 0
            if open == 0 { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func report(_ diagnostics: [ConfigDiagnostic]) {
        for diagnostic in diagnostics {
            switch diagnostic.severity {
            case .error: self.logger.error("\(diagnostic)")
            case .warning: self.logger.warning("\(diagnostic)")
            }
        }
    }
}

extension GatewayServer: AdminDataSource {
    func readiness() -> (Int, String) {
        switch self.state.withLockedValue({ $0.readiness }) {
        case .starting: (503, "NOT READY")
        case .serving: (200, "LIVE")
        case .draining: (503, "DRAINING")
        }
    }

    func prometheusText() -> String {
        self.metrics.renderPrometheus()
    }

    func configDumpJSON() -> String {
        let state = self.state.withLockedValue { $0 }
        return ConfigDump.json(snapshot: state.snapshot, loadedAt: state.loadedAt, rejected: state.lastRejected)
    }
}
