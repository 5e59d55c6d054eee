import Foundation
import PortcullisControlPlane
import PortcullisModel

/// `portcullis run --kubernetes` / `--kubeconfig`: config from a Kubernetes API server.
extension GatewayServer {
    /// Serves the admin endpoints at once (`/ready` 503 until the first full sync of every collection), then
    /// applies every snapshot the source yields through the same build-and-install path as file reloads. A
    /// snapshot rejected before anything was served keeps the gateway not ready (its errors in `/ready`); a lost
    /// API server keeps the last good config serving and shows in `/ready`, the logs and the metrics.
    func runKubernetes(_ options: KubernetesSourceOptions) async throws -> Int32 {
        let client: KubernetesAPIClient
        do {
            client = try KubernetesAPIClient(config: options.cluster)
        } catch {
            self.logger.critical("cannot set up the Kubernetes client", metadata: ["error": "\(error)"])
            return 1
        }
        let source = KubernetesConfigSource(
            client: client, loader: ConfigLoader(), watchNamespace: options.watchNamespace,
            secretsNamespace: self.options.namespace, meshNamespace: options.meshNamespace, serviceRegistry: true,
            backoff: options.backoff, minimumWatchTimeoutSeconds: options.minimumWatchTimeoutSeconds,
            logger: self.logger)
        self.state.withLockedValue { $0.kubernetes = source }
        let plumbing = try await Plumbing.start(self)
        self.logger.info(
            "watching the Kubernetes API",
            metadata: [
                "server": "\(source.sourceName)", "watch_namespace": "\(options.watchNamespace ?? "(all)")",
                "gateway_namespace": "\(self.options.namespace)",
                "mesh_namespace": "\(options.meshNamespace ?? "(not read)")",
            ])

        let updates = Task {
            for await snapshot in source.snapshots() {
                let outcome = await self.reload(snapshot.loaded, endpoints: snapshot.endpoints, files: nil, plumbing)
                let starting = self.state.withLockedValue { $0.readiness == .starting }
                if starting, outcome == .applied {
                    let version = self.state.withLockedValue { $0.snapshot?.version ?? "" }
                    self.state.withLockedValue { $0.readiness = .serving }
                    self.logger.info("serving", metadata: ["version": "\(version)"])
                } else if starting, outcome == .rejected {
                    self.logger.error("first configuration from the API server rejected; not ready until it is fixed")
                }
            }
        }

        await SignalWaiter.waitForTermination()
        updates.cancel()
        await self.stop(plumbing)
        return 0
    }
}
