import Foundation
import GRPCCore
import Logging
import NIOConcurrencyHelpers
import PortcullisControlPlane
import PortcullisGRPC
import PortcullisModel
import PortcullisXDSProto

/// What the gateway made of one candidate config.
public enum XDSApplyOutcome: Sendable, Equatable {
    case accepted
    /// Rejected; the message goes back to istiod in the NACK.
    case rejected(String)
}

/// Config from istiod over ADS ("MCP over xDS", `--xds-address`): one bidirectional
/// `StreamAggregatedResources` stream subscribing to the Istio kinds, each response decoded into the objects
/// the file loader reads, validated and installed through the same pipeline, then ACKed, or NACKed with the
/// validation message (the previous config keeps serving). A lost stream reconnects with backoff and jitter;
/// the last accepted config keeps serving meanwhile.
public final class XDSConfigSource: Sendable {
    public let options: XDSSourceOptions
    let loader: ConfigLoader
    let logger: Logger
    private let state: NIOLockedValueBox<XDSSubscriptions>
    private let status = NIOLockedValueBox(Status())

    private struct Status {
        var disconnectedSince: Date? = Date()
        var lastError: String? = "not connected yet"
        var failures = 0
        var connectedOnce = false
    }

    public init(options: XDSSourceOptions, loader: ConfigLoader = ConfigLoader(), logger: Logger) {
        self.options = options
        self.loader = loader
        self.logger = logger
        self.state = NIOLockedValueBox(XDSSubscriptions(kinds: options.kinds, node: options.node))
    }

    /// The name diagnostics use as the "file" of objects from this source.
    public var sourceName: String { "xds://\(self.options.target)" }

    /// Sync and connection state, in the shape the Kubernetes source reports it (for `/ready` and metrics).
    public var health: ControlPlaneHealth {
        let (synced, waiting) = self.state.withLockedValue { ($0.synced, $0.waitingFor) }
        let status = self.status.withLockedValue { $0 }
        return ControlPlaneHealth(
            synced: synced, waitingFor: waiting, disconnectedSince: status.disconnectedSince,
            lastError: status.disconnectedSince == nil ? nil : status.lastError, totalFailures: status.failures)
    }

    /// The versions last accepted, by type URL.
    public var acceptedVersions: [String: String] { self.state.withLockedValue { $0.acceptedVersions } }

    /// Streams until the task is cancelled, calling `apply` with every candidate config.
    public func run(apply: @escaping @Sendable (ConfigLoadResult) async -> XDSApplyOutcome) async {
        var delay = self.options.initialBackoff
        while !Task.isCancelled {
            let reachedServer = await self.runStream(apply: apply)
            if Task.isCancelled { return }
            if reachedServer { delay = self.options.initialBackoff }
            let jittered = delay * Double.random(in: 0.5...1.0)
            self.logger.info("reconnecting to the xDS server", metadata: ["in": "\(jittered)"])
            try? await Task.sleep(for: jittered)
            delay = min(delay * 2, self.options.maximumBackoff)
        }
    }

    /// One stream's life; returns whether the server answered at all (resets the backoff).
    private func runStream(apply: @escaping @Sendable (ConfigLoadResult) async -> XDSApplyOutcome) async -> Bool {
        let answered = NIOLockedValueBox(false)
        do {
            let transport = HTTP2GRPCTransport(configuration: try self.options.transport())
            let metadata = try self.callMetadata()
            try await withGRPCClient(transport: transport) { grpc in
                let client = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: grpc)
                let (outgoing, requests) = AsyncStream.makeStream(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self)
                for request in self.state.withLockedValue({ $0.streamStarted() }) { requests.yield(request) }
                try await client.streamAggregatedResources(
                    metadata: metadata,
                    requestProducer: { writer in
                        for await request in outgoing { try await writer.write(request) }
                    },
                    onResponse: { response in
                        defer { requests.finish() }
                        self.logger.debug("xDS stream open")
                        for try await message in response.messages {
                            self.logger.debug("xDS response", metadata: ["type": "\(message.typeURL)", "version": "\(message.versionInfo)"])
                            if !answered.withLockedValue({ $0 }) {
                                answered.withLockedValue { $0 = true }
                                self.connected()
                            }
                            for reply in await self.handle(message, apply: apply) { requests.yield(reply) }
                        }
                    })
                self.logger.debug("xDS stream ended by the server")
                throw RPCError(code: .unavailable, message: "the server ended the stream")
            }
        } catch {
            self.disconnected(error)
        }
        return answered.withLockedValue { $0 }
    }

    /// Decides on one response and returns the ACKs/NACKs to send.
    private func handle(
        _ response: Envoy_Service_Discovery_V3_DiscoveryResponse,
        apply: @Sendable (ConfigLoadResult) async -> XDSApplyOutcome
    ) async -> [Envoy_Service_Discovery_V3_DiscoveryRequest] {
        let decision = self.state.withLockedValue { $0.receive(response) }
        switch decision {
        case .wait, .ignore:
            return []
        case .nack(let request):
            self.logger.error(
                "xDS response rejected", metadata: ["type": "\(response.typeURL)", "error": "\(request.errorDetail.message)"])
            return [request]
        case .apply(let batch):
            for received in batch {
                for object in received.objects where object.droppedUnknownFields {
                    self.logger.warning(
                        "fields unknown to this gateway were dropped (istiod is newer than its API definitions)",
                        metadata: ["kind": "\(received.kind.kind)", "resource": "\(object.name)", "version": "\(object.version)"])
                }
            }
            let text = self.state.withLockedValue { $0.candidate(batch) }
            let loaded = self.loader.load(yaml: text, file: self.sourceName)
            let outcome = await apply(loaded)
            let types = batch.map { "\($0.kind.kind)@\($0.version)" }.joined(separator: " ")
            switch outcome {
            case .accepted:
                self.logger.info("xDS config accepted", metadata: ["resources": "\(types)"])
                return self.state.withLockedValue { $0.applied(batch, accepted: true, reason: "") }
            case .rejected(let reason):
                self.logger.error("xDS config rejected (NACK)", metadata: ["resources": "\(types)", "error": "\(reason)"])
                return self.state.withLockedValue { $0.applied(batch, accepted: false, reason: reason) }
            }
        }
    }

    /// `authorization: Bearer TOKEN` (read now, so a rotated token is used on reconnect) and `ClusterID`.
    private func callMetadata() throws -> Metadata {
        var metadata: Metadata = ["clusterid": .string(self.options.clusterID)]
        if let tokenFile = self.options.tokenFile {
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            metadata.addString("Bearer \(token)", forKey: "authorization")
        }
        return metadata
    }

    private func connected() {
        let first = self.status.withLockedValue { status -> Bool in
            defer { status.disconnectedSince = nil; status.connectedOnce = true }
            return !status.connectedOnce
        }
        self.logger.info(first ? "connected to the xDS server" : "reconnected to the xDS server",
                         metadata: ["server": "\(self.options.target)"])
    }

    private func disconnected(_ error: any Error) {
        let message = (error as? RPCError).map { "\($0.code): \($0.message)" } ?? "\(error)"
        self.status.withLockedValue { status in
            if status.disconnectedSince == nil { status.disconnectedSince = Date() }
            status.lastError = message
            status.failures += 1
        }
        self.logger.warning("xDS stream failed", metadata: ["server": "\(self.options.target)", "error": "\(message)"])
    }
}
