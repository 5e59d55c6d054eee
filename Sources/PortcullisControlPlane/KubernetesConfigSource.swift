import Foundation
import Logging
import NIOConcurrencyHelpers
import PortcullisModel

/// What the Kubernetes source yields: the loaded config (Istio objects, Secrets, Services) and the Services'
/// ready endpoints, kept apart so an endpoint change can skip the route compiler.
public struct KubernetesConfigSnapshot: Sendable {
    public var loaded: ConfigLoadResult
    public var endpoints: ServiceEndpoints

    public init(loaded: ConfigLoadResult, endpoints: ServiceEndpoints = ServiceEndpoints()) {
        self.loaded = loaded
        self.endpoints = endpoints
    }
}

/// Config from a Kubernetes API server: the Istio networking and security objects (and optionally the Secrets of
/// one namespace, the mesh config, and the service registry), listed and watched by one ``KubernetesReflector``
/// each.
///
/// After every reflector's first successful list, and then after every change of any store, a snapshot is
/// yielded. Istio objects, Secrets and the mesh ConfigMap are rendered as one multi-document JSON text (JSON is
/// YAML) and run through the same ``ConfigLoader`` as files, so validation and diagnostics are identical; that
/// happens only when one of those collections changed. Services, EndpointSlices and Pods are decoded directly
/// (``KubernetesServiceRegistry``); one that does not decode is skipped with a warning. A relist that finds
/// nothing changed yields nothing.
public struct KubernetesConfigSource: Sendable {
    /// What a collection contributes.
    public enum Role: Sendable, Hashable {
        /// Istio objects or Secrets, through the config loader.
        case config
        /// Core `v1` Services.
        case services
        /// `discovery.k8s.io` EndpointSlices.
        case endpointSlices
        /// Pods, for their labels only.
        case pods
    }

    /// The API client shared by the reflectors.
    public let client: KubernetesAPIClient
    /// The loader that validates and decodes the objects.
    public let loader: ConfigLoader
    /// The reflectors, in the order their objects are rendered.
    public let reflectors: [KubernetesReflector]
    /// The role of each reflector.
    public let roles: [Role]
    /// Where skipped Services, EndpointSlices and Pods are reported.
    let logger: Logger

    /// The Istio collections read: `networking.istio.io/v1` Gateways, VirtualServices, DestinationRules and
    /// ServiceEntries and `security.istio.io/v1` AuthorizationPolicies (`v1beta1` when the server does not serve
    /// `v1`), in `watchNamespace` or all namespaces, plus core `v1` Secrets in `secretsNamespace` if set, plus the
    /// mesh config (ConfigMap `istio`, selected by name) in `meshNamespace` if set.
    public static func resources(
        watchNamespace: String?, secretsNamespace: String?, meshNamespace: String? = nil
    ) -> [KubernetesResource] {
        var resources = ["gateways", "virtualservices", "destinationrules", "serviceentries"].map {
            KubernetesResource(group: "networking.istio.io", version: "v1", plural: $0, namespace: watchNamespace)
        }
        resources.append(
            KubernetesResource(
                group: "security.istio.io", version: "v1", plural: "authorizationpolicies", namespace: watchNamespace))
        if let secretsNamespace {
            resources.append(KubernetesResource(group: "", version: "v1", plural: "secrets",
                                                namespace: secretsNamespace))
        }
        if let meshNamespace {
            resources.append(Self.meshConfigResource(namespace: meshNamespace))
        }
        return resources
    }

    /// The mesh config the way Istio reads it: ConfigMap `istio` (key `mesh`) in the mesh root namespace, and
    /// nothing else of that namespace's ConfigMaps (a `metadata.name` field selector).
    public static func meshConfigResource(namespace: String) -> KubernetesResource {
        KubernetesResource(
            group: "", version: "v1", plural: "configmaps", namespace: namespace, fieldSelector: "metadata.name=istio")
    }

    /// Creates a source reflecting ``resources(watchNamespace:secretsNamespace:meshNamespace:)`` and, with
    /// `serviceRegistry`, core `v1` Services, EndpointSlices (`discovery.k8s.io/v1`, falling back to `v1beta1`)
    /// and Pods (labels only) in `watchNamespace` or all namespaces.
    public init(
        client: KubernetesAPIClient, loader: ConfigLoader = ConfigLoader(), watchNamespace: String? = nil,
        secretsNamespace: String? = nil, meshNamespace: String? = nil, serviceRegistry: Bool = false,
        backoff: KubernetesBackoff = KubernetesBackoff(), minimumWatchTimeoutSeconds: Int = 300,
        logger: Logger = Logger(label: "portcullis.kubernetes")
    ) {
        let config = Self.resources(
            watchNamespace: watchNamespace, secretsNamespace: secretsNamespace, meshNamespace: meshNamespace)
        var reflectors = config.map { resource in
            // Istio before 1.22 serves no v1: its v1beta1 has the same schema (and the loader accepts it).
            var fallback = resource
            fallback.version = "v1beta1"
            return KubernetesReflector(
                client: client, resource: resource, fallbacks: resource.group.isEmpty ? [] : [fallback],
                backoff: backoff, minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger)
        }
        var roles = [Role](repeating: .config, count: reflectors.count)
        if serviceRegistry {
            func resource(_ group: String, _ version: String, _ plural: String) -> KubernetesResource {
                KubernetesResource(group: group, version: version, plural: plural, namespace: watchNamespace)
            }
            reflectors.append(
                KubernetesReflector(
                    client: client, resource: resource("", "v1", "services"),
                    transform: KubernetesService.trimmed, backoff: backoff,
                    minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger))
            reflectors.append(
                KubernetesReflector(
                    client: client, resource: resource("discovery.k8s.io", "v1", "endpointslices"),
                    fallbacks: [resource("discovery.k8s.io", "v1beta1", "endpointslices")],
                    transform: KubernetesEndpointSlice.trimmed, backoff: backoff,
                    minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger))
            reflectors.append(
                KubernetesReflector(
                    client: client, resource: resource("", "v1", "pods"), transform: KubernetesPod.trimmed,
                    backoff: backoff, minimumWatchTimeoutSeconds: minimumWatchTimeoutSeconds, logger: logger))
            roles += [.services, .endpointSlices, .pods]
        }
        self.client = client
        self.loader = loader
        self.reflectors = reflectors
        self.roles = roles
        self.logger = logger
    }

    /// Creates a source reflecting exactly `resources`, all as config.
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
        self.roles = [Role](repeating: .config, count: resources.count)
        self.logger = logger
    }

    /// Whether every collection has been listed at least once (readiness).
    public var synced: Bool { self.reflectors.allSatisfy { $0.status.synced } }

    /// Each collection's progress, by REST path.
    public var statuses: [String: KubernetesReflectorStatus] {
        Dictionary(uniqueKeysWithValues: self.reflectors.map { ($0.resource.path, $0.status) })
    }

    /// Sync and connection state over every collection.
    public var health: ControlPlaneHealth {
        let statuses = self.reflectors.map(\.status)
        let failing = statuses.filter { $0.failingSince != nil }.sorted { $0.failingSince! < $1.failingSince! }
        return ControlPlaneHealth(
            synced: statuses.allSatisfy(\.synced), waitingFor: statuses.filter { !$0.synced }.map(\.path),
            disconnectedSince: failing.first?.failingSince, lastError: failing.last?.lastError,
            totalFailures: statuses.reduce(0) { $0 + $1.totalFailures })
    }

    /// The name diagnostics use as the "file" of objects from this source.
    public var sourceName: String { "kubernetes://\(self.client.config.host):\(self.client.config.port)" }

    /// Yields a load result once every collection has been listed, then after every change; ends when iteration
    /// stops (which stops the reflectors). Services are in `config.services`; endpoints are left out.
    public func updates() -> AsyncStream<ConfigLoadResult> {
        let snapshots = self.snapshots()
        return AsyncStream { continuation in
            let task = Task {
                for await snapshot in snapshots { continuation.yield(snapshot.loaded) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Yields a snapshot once every collection has been listed, then after every change; ends when iteration
    /// stops (which stops the reflectors).
    ///
    /// Bursts coalesce: reflectors only record their latest store and wake the combiner, which builds one
    /// snapshot from whatever changed since it last ran; a consumer slower than the changes gets only the newest
    /// snapshot (each is the complete state). So 1,000 objects created in a burst cost a few loads, not 1,000.
    public func snapshots() -> AsyncStream<KubernetesConfigSnapshot> {
        let (stream, continuation) = AsyncStream<KubernetesConfigSnapshot>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        let source = self
        let task = Task {
            let pending = NIOLockedValueBox<[Int: KubernetesStoreSnapshot]>([:])
            let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            await withTaskGroup(of: Void.self) { group in
                for (index, reflector) in source.reflectors.enumerated() {
                    group.addTask {
                        await reflector.run { store in
                            pending.withLockedValue { $0[index] = store }
                            wake.yield()
                        }
                    }
                }
                group.addTask {
                    var combiner = SnapshotCombiner(source: source)
                    for await _ in wakeups {
                        let changed = pending.withLockedValue { stores in
                            defer { stores = [:] }
                            return stores
                        }
                        if let combined = combiner.apply(changed) { continuation.yield(combined) }
                    }
                }
                await group.next()
                group.cancelAll()
                wake.finish()
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

/// Keeps the latest store of every reflector and recomputes only what a change touches.
private struct SnapshotCombiner {
    let source: KubernetesConfigSource
    var stores: [Int: KubernetesStoreSnapshot] = [:]
    var loaded: ConfigLoadResult?
    var services: [KubernetesService] = []
    var endpoints = ServiceEndpoints()
    var dirty: Set<KubernetesConfigSource.Role> = []
    /// The objects skipped by the last decoding of each role, so each is logged once, not on every change.
    var problems: [KubernetesConfigSource.Role: Set<ConfigDiagnostic>] = [:]

    init(source: KubernetesConfigSource) {
        self.source = source
    }

    /// Records the changed stores; returns the combined snapshot once every store is present.
    mutating func apply(_ changed: [Int: KubernetesStoreSnapshot]) -> KubernetesConfigSnapshot? {
        for (index, store) in changed {
            self.stores[index] = store
            let role = self.source.roles[index]
            self.dirty.insert(role == .pods ? .endpointSlices : role)
        }
        guard !changed.isEmpty, self.stores.count == self.source.reflectors.count else { return nil }
        let roles = self.source.roles
        func objects(_ role: KubernetesConfigSource.Role) -> [String: KubernetesJSON] {
            var all: [String: KubernetesJSON] = [:]
            for index in roles.indices where roles[index] == role {
                all.merge(self.stores[index]!.objects) { first, _ in first }
            }
            return all
        }
        if self.dirty.contains(.config) || self.loaded == nil {
            let ordered = roles.indices.filter { roles[$0] == .config }.map { self.stores[$0]! }
            self.loaded = self.source.load(ordered)
        }
        if self.dirty.contains(.services) {
            var problems: [ConfigDiagnostic] = []
            self.services = KubernetesServiceRegistry.services(
                objects(.services), sourceName: self.source.sourceName, problems: &problems)
            self.report(problems, of: .services)
        }
        if self.dirty.contains(.endpointSlices) {
            var problems: [ConfigDiagnostic] = []
            self.endpoints = KubernetesServiceRegistry.endpoints(
                slices: objects(.endpointSlices), pods: objects(.pods), sourceName: self.source.sourceName,
                problems: &problems)
            self.report(problems, of: .endpointSlices)
        }
        self.dirty = []
        var loaded = self.loaded!
        loaded.config.services = self.services
        return KubernetesConfigSnapshot(loaded: loaded, endpoints: self.endpoints)
    }

    /// Logs the problems of `role` that were not there at its last decoding.
    private mutating func report(_ problems: [ConfigDiagnostic], of role: KubernetesConfigSource.Role) {
        let previous = self.problems[role] ?? []
        for problem in problems where !previous.contains(problem) { self.source.logger.warning("\(problem)") }
        self.problems[role] = Set(problems)
    }
}
