import Foundation
import Logging
import NIOConcurrencyHelpers
import PortcullisModel

/// A collection of Kubernetes objects of one type, optionally in one namespace.
public struct KubernetesResource: Sendable, Hashable, CustomStringConvertible {
    /// API group; "" for the core group (`/api/v1`).
    public var group: String
    /// API version within the group (`v1`).
    public var version: String
    /// Lower-case plural resource name (`virtualservices`).
    public var plural: String
    /// The namespace to scope to; nil watches all namespaces.
    public var namespace: String?
    /// A field selector (`metadata.name=istio`) sent with every list and watch, so the server returns only the
    /// matching objects; nil reads the whole collection.
    public var fieldSelector: String?

    /// Creates a resource description.
    public init(
        group: String, version: String, plural: String, namespace: String? = nil, fieldSelector: String? = nil
    ) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespace = namespace
        self.fieldSelector = fieldSelector
    }

    /// The collection's REST path, e.g. `/apis/networking.istio.io/v1/namespaces/NS/gateways`.
    public var path: String {
        let base = self.group.isEmpty ? "/api/\(self.version)" : "/apis/\(self.group)/\(self.version)"
        guard let namespace = self.namespace, !namespace.isEmpty else { return base + "/" + self.plural }
        return base + "/namespaces/" + namespace + "/" + self.plural
    }

    /// What list and watch requests ask for: ``path`` plus the field selector, if any.
    public var requestPath: String {
        guard let selector = self.fieldSelector, !selector.isEmpty else { return self.path }
        return KubernetesAPIClient.target(self.path, ["fieldSelector=" + KubernetesAPIClient.queryEscape(selector)])
    }

    public var description: String {
        guard let selector = self.fieldSelector, !selector.isEmpty else { return self.path }
        return "\(self.path) (\(selector))"
    }
}

/// Exponential backoff with jitter for API errors: `initial` doubling per consecutive failure up to `maximum`,
/// each delay stretched by a random fraction of up to `jitter` (client-go's `wait.Jitter`), still capped.
public struct KubernetesBackoff: Sendable, Hashable {
    /// The delay after the first failure.
    public var initial: Duration
    /// The largest delay.
    public var maximum: Duration
    /// The largest random stretch, as a fraction of the delay.
    public var jitter: Double

    /// Creates a backoff policy; the defaults are 0.5 s doubling to 30 s with up to 50 % jitter.
    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before retry number `attempt` (1 for the first retry); `random` is in `0..<1`.
    public func delay(attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        var base = self.initial * (1 << exponent)
        if base > self.maximum || base < self.initial { base = self.maximum }
        let stretched = base + base * (self.jitter * random)
        return min(stretched, self.maximum)
    }
}

/// The objects of one collection at one resource version, keyed by `namespace/name`.
public struct KubernetesStoreSnapshot: Sendable, Hashable {
    /// Every object, keyed by `namespace/name` (`name` for cluster-scoped objects).
    public var objects: [String: KubernetesJSON]
    /// The resource version the objects are current at.
    public var resourceVersion: String

    /// Creates a snapshot.
    public init(objects: [String: KubernetesJSON] = [:], resourceVersion: String = "") {
        self.objects = objects
        self.resourceVersion = resourceVersion
    }
}

/// What a reflector has done so far, for readiness, logs and tests.
public struct KubernetesReflectorStatus: Sendable, Hashable {
    /// Whether a list has succeeded at least once (the store has been complete at some point).
    public var synced = false
    /// The last resource version seen (from a list, an event or a bookmark).
    public var resourceVersion: String?
    /// Successful lists.
    public var lists = 0
    /// Watch requests started.
    public var watches = 0
    /// Snapshots published.
    public var publishes = 0
    /// Failures since the last success; non-zero means the API server is currently unreachable or refusing.
    public var consecutiveFailures = 0
    /// The last failure, cleared by the next successful list or event.
    public var lastError: String?
    /// When the current run of failures began; nil while the API server answers.
    public var failingSince: Date?
    /// Failures since the reflector started (never reset), for the watch-error metric.
    public var totalFailures = 0
    /// The collection actually reflected: the first of the candidate versions the server serves.
    public var path = ""
}

/// Lists and watches one collection the way client-go's reflector does and keeps it in memory.
///
/// List, then watch from the list's resource version. Events update the store; bookmarks only advance the
/// resource version. A watch that ends (server timeout, dropped connection) resumes from the last resource version
/// seen; a 410 (HTTP status or `ERROR` event) or any other `ERROR` event lists again, replacing the store. API
/// errors back off with jitter. The store is published only when it changed, so a relist that finds the same
/// objects publishes nothing; the first successful list is always published, even when empty.
///
/// A list answered 404 moves on to the next of `fallbacks` (another version of the same collection, e.g.
/// `discovery.k8s.io/v1beta1` EndpointSlices on servers older than 1.21); `transform` trims each object before it
/// is stored and compared (client-go's `TransformFunc`), so fields the gateway ignores cause no publish.
public final class KubernetesReflector: Sendable {
    /// The API client.
    public let client: KubernetesAPIClient
    /// The collection reflected (the preferred version).
    public let resource: KubernetesResource
    /// Other versions of the collection, tried in order when the server does not serve the previous one.
    public let fallbacks: [KubernetesResource]
    /// Applied to every object before it is stored.
    public let transform: (@Sendable (KubernetesJSON) -> KubernetesJSON)?
    /// Delays between retries after errors.
    public let backoff: KubernetesBackoff
    /// The shortest watch timeout asked of the server; each watch asks for a random value between this and twice
    /// this, as client-go does, so many watchers do not reconnect in step.
    public let minimumWatchTimeoutSeconds: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(KubernetesReflectorStatus())

    /// Creates a reflector; nothing happens until `run` or `snapshots` is called.
    public init(
        client: KubernetesAPIClient, resource: KubernetesResource, fallbacks: [KubernetesResource] = [],
        transform: (@Sendable (KubernetesJSON) -> KubernetesJSON)? = nil,
        backoff: KubernetesBackoff = KubernetesBackoff(),
        minimumWatchTimeoutSeconds: Int = 300, logger: Logger = Logger(label: "portcullis.kubernetes")
    ) {
        self.client = client
        self.resource = resource
        self.fallbacks = fallbacks
        self.transform = transform
        self.state.withLockedValue { $0.path = resource.path }
        self.backoff = backoff
        self.minimumWatchTimeoutSeconds = max(1, minimumWatchTimeoutSeconds)
        self.logger = logger
    }

    /// The reflector's progress so far.
    public var status: KubernetesReflectorStatus { self.state.withLockedValue { $0 } }

    /// Every change of the store, starting with the first successful list; ends when iteration stops.
    public func snapshots() -> AsyncStream<KubernetesStoreSnapshot> {
        let (stream, continuation) = AsyncStream<KubernetesStoreSnapshot>.makeStream()
        let task = Task {
            await self.run { continuation.yield($0) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Lists and watches until the task is cancelled, calling `onChange` with the whole store after every change.
    /// `onChange` is awaited before the next event is read.
    public func run(onChange: @escaping @Sendable (KubernetesStoreSnapshot) async -> Void) async {
        var loop = ReflectorLoop()
        while !Task.isCancelled {
            do {
                if loop.needsList {
                    if loop.goneInARow > 1, !(await self.pause(self.backoff.delay(attempt: loop.goneInARow - 1))) {
                        return
                    }
                    try await self.relist(&loop, onChange: onChange)
                }
                try await self.watch(&loop, onChange: onChange)
            } catch is CancellationError {
                return
            } catch let error as KubernetesAPIError where error.status?.isGone == true {
                self.logger.info(
                    "Kubernetes resource version expired; listing again",
                    metadata: ["resource": "\(self.resource)", "error": "\(error)"])
                loop.needsList = true
                loop.goneInARow += 1
            } catch let error as KubernetesAPIError
                where error.status?.code == 404 && loop.needsList && loop.candidate < self.fallbacks.count
            {
                loop.candidate += 1
                let next = self.candidates[loop.candidate]
                self.state.withLockedValue { $0.path = next.path }
                self.logger.info(
                    "Kubernetes collection not served; trying another version",
                    metadata: ["resource": "\(self.candidates[loop.candidate - 1])", "next": "\(next)"])
            } catch {
                if Task.isCancelled { return }
                loop.failures += 1
                let failures = loop.failures
                let now = Date()
                self.state.withLockedValue {
                    $0.consecutiveFailures = failures
                    $0.lastError = "\(error)"
                    $0.totalFailures += 1
                    if $0.failingSince == nil { $0.failingSince = now }
                }
                if let status = (error as? KubernetesAPIError)?.status, status.code == 401 || status.code == 403 {
                    self.logger.error(
                        "Kubernetes API refused access; check the gateway's credentials and RBAC (get, list and watch)",
                        metadata: [
                            "resource": "\(self.currentResource(loop))", "error": "\(error)",
                            "failures": "\(failures)",
                        ])
                }
                if loop.needsList, (error as? KubernetesAPIError)?.status?.code == 404, loop.candidate > 0 {
                    loop.candidate = 0  // none of the versions is served (yet): start over after the backoff
                    self.state.withLockedValue { $0.path = self.resource.path }
                }
                var delay = self.backoff.delay(attempt: failures)
                if case .status(_, let retryAfter?) = error as? KubernetesAPIError {
                    delay = max(delay, .seconds(min(retryAfter, 300)))
                }
                self.logger.warning(
                    "Kubernetes API error; retrying",
                    metadata: [
                        "resource": "\(self.resource)", "error": "\(error)", "failures": "\(failures)",
                        "retry_in": "\(delay)",
                    ])
                if !(await self.pause(delay)) { return }
            }
        }
    }

    /// The preferred resource, then the fallbacks.
    private var candidates: [KubernetesResource] { [self.resource] + self.fallbacks }

    private func currentResource(_ loop: ReflectorLoop) -> KubernetesResource { self.candidates[loop.candidate] }

    private func stored(_ object: KubernetesJSON) -> KubernetesJSON {
        self.transform.map { $0(object) } ?? object
    }

    /// Lists the collection and replaces the store; publishes if it differs from the published one.
    private func relist(
        _ loop: inout ReflectorLoop, onChange: @Sendable (KubernetesStoreSnapshot) async -> Void
    ) async throws {
        let (items, version) = try await self.client.list(path: self.currentResource(loop).requestPath)
        var fresh: [String: KubernetesJSON] = [:]
        for item in items { fresh[item.storeKey] = self.stored(item) }
        let changed = !loop.published || fresh != loop.store
        loop.store = fresh
        loop.resourceVersion = version
        loop.needsList = false
        loop.failures = 0
        let failedSince = self.state.withLockedValue { $0.failingSince }
        if let failedSince {
            self.logger.notice(
                "Kubernetes API reachable again",
                metadata: ["resource": "\(self.currentResource(loop))", "failing_since": "\(failedSince)"])
        }
        self.state.withLockedValue {
            $0.synced = true
            $0.lists += 1
            $0.resourceVersion = version
            $0.consecutiveFailures = 0
            $0.lastError = nil
            $0.failingSince = nil
        }
        self.logger.debug(
            "Kubernetes list",
            metadata: [
                "resource": "\(self.currentResource(loop))", "items": "\(items.count)",
                "resource_version": "\(version)",
                "changed": "\(changed)",
            ])
        if changed { await self.publish(&loop, onChange) }
    }

    /// One watch request from the current resource version, applied event by event.
    private func watch(
        _ loop: inout ReflectorLoop, onChange: @Sendable (KubernetesStoreSnapshot) async -> Void
    ) async throws {
        let timeout = self.minimumWatchTimeoutSeconds + Int.random(in: 0..<self.minimumWatchTimeoutSeconds + 1)
        let started = ContinuousClock.now
        var sawEvent = false
        self.state.withLockedValue { $0.watches += 1 }
        // An accepted watch means the server answers again: the failure run ends here, not at the next event
        // (which may be minutes away on a quiet collection).
        let (state, logger, resource) = (self.state, self.logger, self.currentResource(loop))
        let events = self.client.watch(
            path: resource.requestPath, resourceVersion: loop.resourceVersion, timeoutSeconds: timeout,
            onOpen: {
                let failed = state.withLockedValue { status in
                    let since = status.failingSince
                    status.consecutiveFailures = 0
                    status.lastError = nil
                    status.failingSince = nil
                    return since
                }
                if let failed {
                    logger.notice(
                        "Kubernetes API reachable again",
                        metadata: ["resource": "\(resource)", "failing_since": "\(failed)"])
                }
            })
        for try await event in events {
            sawEvent = true
            var changed = false
            switch event {
            case .added(let object), .modified(let object):
                let key = object.storeKey
                let kept = self.stored(object)
                if loop.store[key] != kept {
                    loop.store[key] = kept
                    changed = true
                }
                loop.resourceVersion = object.resourceVersion ?? loop.resourceVersion
            case .deleted(let object):
                changed = loop.store.removeValue(forKey: object.storeKey) != nil
                loop.resourceVersion = object.resourceVersion ?? loop.resourceVersion
            case .bookmark(let version):
                loop.resourceVersion = version
            case .error(let status):
                loop.needsList = true
                if status.isGone {
                    loop.goneInARow += 1
                    self.logger.info(
                        "Kubernetes watch expired; listing again",
                        metadata: ["resource": "\(self.resource)", "status": "\(status)"])
                    return
                }
                throw KubernetesAPIError.status(status, retryAfter: nil)
            }
            loop.failures = 0
            loop.goneInARow = 0
            let version = loop.resourceVersion
            self.state.withLockedValue {
                $0.resourceVersion = version
                $0.consecutiveFailures = 0
                $0.lastError = nil
                $0.failingSince = nil
            }
            if changed { await self.publish(&loop, onChange) }
        }
        // A clean end: the server's timeout. One that comes at once with nothing in it counts as a failure, so a
        // server that closes every watch immediately is not hammered.
        if !sawEvent, ContinuousClock.now - started < .seconds(1) {
            throw KubernetesAPIError.connectionClosed("watch of \(self.resource) ended immediately")
        }
    }

    private func publish(
        _ loop: inout ReflectorLoop, _ onChange: @Sendable (KubernetesStoreSnapshot) async -> Void
    ) async {
        loop.published = true
        self.state.withLockedValue { $0.publishes += 1 }
        await onChange(KubernetesStoreSnapshot(objects: loop.store, resourceVersion: loop.resourceVersion))
    }

    /// Sleeps; false when the task was cancelled.
    private func pause(_ delay: Duration) async -> Bool {
        do {
            try await Task.sleep(for: delay)
            return true
        } catch {
            return false
        }
    }
}

/// The mutable state of one `run`.
private struct ReflectorLoop {
    var store: [String: KubernetesJSON] = [:]
    var resourceVersion = ""
    var needsList = true
    var published = false
    var failures = 0
    var goneInARow = 0
    /// Index into the reflector's candidate resources.
    var candidate = 0
}
