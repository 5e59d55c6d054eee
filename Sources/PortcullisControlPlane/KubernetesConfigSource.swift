import Foundation
import Logging
import PortcullisModel

/// Config from a Kubernetes API server: the Istio networking objects (and optionally the Secrets of one
/// namespace), listed and watched by one ``KubernetesReflector`` each.
///
/// After every reflector's first successful list, and then after every change of any store, the stores are
/// rendered as one multi-document JSON text (JSON is YAML) and run through the same ``ConfigLoader`` as files, so
/// validation and diagnostics are identical. A relist that finds nothing changed yields nothing.
public struct KubernetesConfigSource: Sendable {
    /// The API client shared by the reflectors.
    public let client: KubernetesAPIClient
    /// The loader that validates and decodes the objects.
    public let loader: ConfigLoader
    /// The reflectors, in the order their objects are rendered.
    public let reflectors: [KubernetesReflector]

    /// The Istio collections read: `networking.istio.io/v1` Gateways, VirtualServices, DestinationRules and
    /// ServiceEntries, in `watchNamespace` or all namespaces, plus core `v1` Secrets in `secretsNamespace` if set.
    public static func resources(watchNamespace: String?, secretsNamespace: String?) -> [KubernetesResource] {
        var resources = ["gateways", "virtualservices", "destinationrules", "serviceentries"].map {
            KubernetesResource(group: "networking.istio.io", version: "v1", plural: $0, namespace: watchNamespace)
        }
        if let secretsNamespace {
            resources.append(KubernetesResource(group: "", version: "v1", plural: "secrets",
                                                namespace: secretsNamespace))
        }
        return resources
    }

    /// Creates a source reflecting ``resources(watchNamespace:secretsNamespace:)``.
    public init(
        client: KubernetesAPIClient, loader: ConfigLoader = ConfigLoader(), watchNamespace: String? = nil,
        secretsNamespace: String? = nil, backoff: KubernetesBackoff = KubernetesBackoff(),
        minimumWatchTimeoutSeconds: Int = 300, logger: Logger = Logger(label: "portcullis.kubernetes")
    ) {
        self.init(
            client: client, loader: loader,
            resources: Self.resources(watchNamespace: watchNamespace, secretsNamespace: secretsNamespace),
            backoff: backoff, minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger)
    }

    /// Creates a source reflecting exactly `resources`.
    public init(
        client: KubernetesAPIClient, loader: ConfigLoader = ConfigLoader(), resources: [KubernetesResource],
        backoff: KubernetesBackoff = KubernetesBackoff(), minimumWatchTimeoutSeconds: Int = 300,
        logger: Logger = Logger(label: "portcullis.kubernetes")
    ) {
        self.client = client
        self.loader = loader
        self.reflectors = resources.map {
            KubernetesReflector(
                client: client, resource: $0, backoff: backoff,
                minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger)
        }
    }

    /// Whether every collection has been listed at least once (readiness).
    public var synced: Bool { self.reflectors.allSatisfy { $0.status.synced } }

    /// Each collection's progress, by REST path.
    public var statuses: [String: KubernetesReflectorStatus] {
        Dictionary(uniqueKeysWithValues: self.reflectors.map { ($0.resource.path, $0.status) })
    }

    /// The name diagnostics use as the "file" of objects from this source.
    public var sourceName: String { "kubernetes://\(self.client.config.host):\(self.client.config.port)" }

    /// Yields a load result once every collection has been listed, then after every change; ends when iteration
    /// stops (which stops the reflectors).
    public func updates() -> AsyncStream<ConfigLoadResult> {
        let (stream, continuation) = AsyncStream<ConfigLoadResult>.makeStream()
        let source = self
        let task = Task {
            let (changes, sink) = AsyncStream<(Int, KubernetesStoreSnapshot)>.makeStream()
            await withTaskGroup(of: Void.self) { group in
                for (index, reflector) in source.reflectors.enumerated() {
                    group.addTask { await reflector.run { sink.yield((index, $0)) } }
                }
                group.addTask {
                    var stores: [Int: KubernetesStoreSnapshot] = [:]
                    for await (index, snapshot) in changes {
                        stores[index] = snapshot
                        guard stores.count == source.reflectors.count else { continue }
                        let ordered = (0..<source.reflectors.count).compactMap { stores[$0] }
                        continuation.yield(source.load(ordered))
                    }
                }
                await group.next()
                group.cancelAll()
                sink.finish()
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Loads the objects of `stores` (in order) through the loader.
    public func load(_ stores: [KubernetesStoreSnapshot]) -> ConfigLoadResult {
        self.loader.load(yaml: Self.render(stores), file: self.sourceName)
    }

    /// One JSON document per object, `---`-separated: stores in order, objects by `namespace/name`.
    public static func render(_ stores: [KubernetesStoreSnapshot]) -> String {
        var documents: [String] = []
        for store in stores {
            for key in store.objects.keys.sorted() { documents.append(store.objects[key]!.serialized) }
        }
        return documents.joined(separator: "\n---\n") + "\n"
    }
}
