import Foundation
import PortcullisControlPlane
import PortcullisModel
import PortcullisProxy

/// Installing snapshots: the full path (routes, clusters, TLS) and the endpoint-only path.
extension GatewayServer {
    /// What one update did.
    enum ReloadOutcome: Sendable, Equatable {
        case unchanged
        case applied
        case endpointsUpdated
        case rejected
        case failed
    }

    /// Installs a snapshot and binds its listeners; returns the listeners that could not be bound.
    @discardableResult
    func install(_ snapshot: GatewaySnapshot, _ plumbing: Plumbing) async throws -> [String] {
        try await plumbing.workers.install(snapshot)?.get()
        let problems = await plumbing.listeners.apply(snapshot.routing)
        for problem in problems { self.logger.error("\(problem)") }
        let previous = self.state.withLockedValue { state in
            defer {
                state.snapshot = snapshot
                state.loadedAt = ISO8601DateFormatter().string(from: Date())
            }
            return state.snapshot
        }
        self.warnAboutUnenforcedPolicies(snapshot, previous: previous)
        self.metrics.setConfigVersion(snapshot.version)
        return problems
    }

    /// AuthorizationPolicies are read but not evaluated yet: say so loudly whenever the set changes, since a
    /// DENY rule that silently does nothing is a security surprise.
    private func warnAboutUnenforcedPolicies(_ snapshot: GatewaySnapshot, previous: GatewaySnapshot?) {
        let policies = snapshot.config.authorizationPolicies
        guard !policies.isEmpty, policies != previous?.config.authorizationPolicies else { return }
        let names = policies.prefix(5).map { "\($0.meta.namespace)/\($0.meta.name) (\($0.action.rawValue))" }
        self.logger.warning(
            "AuthorizationPolicies are loaded but NOT enforced by this gateway: every request is let through",
            metadata: [
                "policies": "\(names.joined(separator: ", "))\(policies.count > 5 ? " and \(policies.count - 5) more" : "")",
            ])
    }

    /// Applies one update from a source.
    ///
    /// When the resources are those of the active snapshot and only Service endpoints differ, the clusters are
    /// rebuilt with the new endpoints and installed without compiling routes or loading certificates again
    /// (``SnapshotBuilder/updatingEndpoints(_:endpoints:)``); upstream pools are keyed by endpoint, so connections
    /// to endpoints that remain are kept. Anything else goes through the full build, and a rejected config keeps
    /// the previous snapshot serving.
    @discardableResult
    func reload(
        _ loaded: ConfigLoadResult, endpoints: ServiceEndpoints, files: FileConfigSource?, _ plumbing: Plumbing
    ) async -> ReloadOutcome {
        let current = self.state.withLockedValue { $0.snapshot }
        if let current, loaded.errors.isEmpty, current.config == loaded.config, files == nil {
            guard current.endpoints != endpoints else { return .unchanged }
            guard let (snapshot, changed) = self.builder.updatingEndpoints(current, endpoints: endpoints) else {
                // Endpoints of Services no route uses: remember them, nothing to install.
                let same = GatewaySnapshot(
                    version: current.version, config: current.config, routing: current.routing,
                    clusters: current.clusters, tls: current.tls, endpoints: endpoints)
                self.state.withLockedValue { $0.snapshot = same }
                return .unchanged
            }
            // Pooled connections to endpoints that left every cluster (pods scaled away) are closed when idle;
            // those to endpoints that remain are kept.
            let before = changed.compactMap { current.clusters[$0] }.flatMap(\.endpoints).map(\.description)
            let after = snapshot.clusters.clusters.values.flatMap(\.endpoints).map(\.description)
            let removed = Set(before).subtracting(after)
            do {
                try await plumbing.workers.install(snapshot, removedEndpoints: removed)?.get()
            } catch {
                self.logger.error("endpoint update failed", metadata: ["error": "\(error)"])
                return .failed
            }
            self.state.withLockedValue { $0.snapshot = snapshot }
            self.controlPlane.endpointUpdates.increment()
            self.logger.info(
                "endpoints updated", metadata: ["clusters": "\(changed.map(\.description).joined(separator: " "))"])
            return .endpointsUpdated
        }
        let outcome = self.builder.build(loaded, endpoints: endpoints)
        guard let snapshot = outcome.snapshot else {
            self.report(outcome.diagnostics)
            self.metrics.configReloaded(success: false)
            self.state.withLockedValue { $0.lastRejected = outcome.errors }
            self.logger.error(
                "configuration rejected; keeping the previous one",
                metadata: ["errors": "\(outcome.errors.count)"])
            return .rejected
        }
        var stamp = ""
        if let files {
            let referenced = CertificateFiles.referenced(by: loaded.config)
            files.extraFiles.withLockedValue { $0 = referenced }
            stamp = CertificateFiles.stamp(referenced)
        }
        let currentStamp = self.state.withLockedValue { $0.certificateStamp }
        if let current, current.config == snapshot.config, currentStamp == stamp, current.endpoints == endpoints {
            return .unchanged  // nothing changed (e.g. a file touched without edits)
        }
        self.state.withLockedValue { $0.certificateStamp = stamp }
        self.report(outcome.diagnostics)
        do {
            let problems = try await self.install(snapshot, plumbing)
            self.state.withLockedValue { $0.lastRejected = [] }
            self.metrics.configReloaded(success: true)
            await plumbing.egress.apply(config: snapshot.config)
            self.logger.info(
                current == nil ? "configuration loaded" : "configuration reloaded",
                metadata: ["version": "\(snapshot.version)"])
            return problems.isEmpty ? .applied : .failed
        } catch {
            self.metrics.configReloaded(success: false)
            self.logger.error("reload failed", metadata: ["error": "\(error)"])
            return .failed
        }
    }
}

extension GatewayServer: AdminDataSource {
    func readiness() -> (Int, String) {
        let (readiness, rejected) = self.state.withLockedValue { ($0.readiness, $0.lastRejected) }
        var status: Int
        var lines: [String]
        switch readiness {
        case .starting: (status, lines) = (503, ["NOT READY"])
        case .serving: (status, lines) = (200, ["LIVE"])
        case .draining: (status, lines) = (503, ["DRAINING"])
        }
        if let (health, name) = self.controlPlaneHealth().map({ ($0.0, $0.1) }) {
            lines.append(Self.describe(health, name: name))
            if readiness == .starting, let first = rejected.first {
                lines.append("configuration rejected (\(rejected.count) error(s)), first: \(first)")
            }
        }
        return (status, lines.joined(separator: "\n"))
    }

    /// The health of the control-plane source (Kubernetes or xDS), nil when config comes from files.
    func controlPlaneHealth() -> (ControlPlaneHealth, String)? {
        let (kubernetes, xds) = self.state.withLockedValue { ($0.kubernetes, $0.xds) }
        if let kubernetes { return (kubernetes.health, kubernetes.sourceName) }
        if let xds { return (xds.health, xds.sourceName) }
        return nil
    }

    /// One line about the control plane for `/ready`.
    static func describe(_ health: ControlPlaneHealth, name: String) -> String {
        if let since = health.disconnectedSince {
            let when = ISO8601DateFormatter().string(from: since)
            return "control plane: disconnected from \(name) since \(when): \(health.lastError ?? "unknown error")"
                + (health.synced ? "; serving the last good configuration" : "")
        }
        if !health.synced {
            return "control plane: waiting for the first sync of \(health.waitingFor.joined(separator: ", "))"
        }
        return "control plane: connected to \(name)"
    }

    func prometheusText() -> String {
        if let health = self.controlPlaneHealth()?.0 {
            let newFailures = self.state.withLockedValue { state -> Int in
                defer { state.countedFailures = max(state.countedFailures, health.totalFailures) }
                return max(0, health.totalFailures - state.countedFailures)
            }
            self.controlPlane.update(health: health, newFailures: newFailures)
        }
        return self.metrics.renderPrometheus()
    }

    func configDumpJSON() -> String {
        let state = self.state.withLockedValue { $0 }
        return ConfigDump.json(snapshot: state.snapshot, loadedAt: state.loadedAt, rejected: state.lastRejected)
    }
}
