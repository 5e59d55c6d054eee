import Foundation
import PortcullisModel
import PortcullisXDS

/// `portcullis run --xds-address`: config from istiod (or a local istio-agent) over ADS.
extension GatewayServer {
    /// Like ``runKubernetes(_:)``: admin endpoints at once (`/ready` 503 until the first sync of every kind is
    /// accepted), then every candidate config through the same build-and-install path as file reloads; the
    /// outcome becomes the ACK or the NACK (with the validation errors) sent back to istiod.
    func runXDS(_ options: XDSSourceOptions) async throws -> Int32 {
        let source = XDSConfigSource(options: options, loader: ConfigLoader(), logger: self.logger)
        self.state.withLockedValue { $0.xds = source }
        let plumbing = try await Plumbing.start(self)
        self.logger.info(
            "subscribing to the xDS server",
            metadata: [
                "server": "\(source.sourceName)", "node": "\(options.node.id)",
                "kinds": "\(options.kinds.map(\.typeURL).joined(separator: " "))",
            ])
        let updates = Task {
            await source.run { loaded in
                let outcome = await self.reload(loaded, endpoints: ServiceEndpoints(), files: nil, plumbing)
                let (starting, rejected) = self.state.withLockedValue { ($0.readiness == .starting, $0.lastRejected) }
                if outcome == .rejected {
                    if starting {
                        self.logger.error("first configuration from the xDS server rejected; not ready until it is fixed")
                    }
                    let shown = rejected.prefix(5).map(\.description)
                    let more = rejected.count > shown.count ? " (and \(rejected.count - shown.count) more)" : ""
                    return .rejected(shown.joined(separator: "; ") + more)
                }
                if starting {
                    let version = self.state.withLockedValue { $0.snapshot?.version ?? "" }
                    self.state.withLockedValue { $0.readiness = .serving }
                    self.logger.info("serving", metadata: ["version": "\(version)"])
                }
                return .accepted
            }
        }
        await SignalWaiter.waitForTermination()
        updates.cancel()
        await self.stop(plumbing)
        return 0
    }
}
