import NIOCore
import NIOPosix
import PortcullisRouting
import PortcullisUpstream

#if canImport(Glibc)
import Glibc
#endif

/// Everything one event loop owns: the installed snapshot, the upstream pool, load-balancer state and in-flight
/// counts. Touched only on its loop (ARCHITECTURE "Threads"), so the request path takes no locks.
public final class Worker {
    public let eventLoop: EventLoop
    public let services: ProxyServices
    /// The snapshot new requests use; replaced by `install`.
    public private(set) var snapshot: GatewaySnapshot?
    let pool: UpstreamPool
    private var runtimes: [ClusterKey: ClusterRuntime] = [:]
    /// The loop's own generator for weighted picks and request ids (no system call per request).
    var random = LoadBalancerRandom()
    /// Requests in flight per endpoint key, for LEAST_REQUEST.
    private var active: [String: Int] = [:]
    /// Requests in flight per cluster, for `http2MaxRequests`.
    private var activePerCluster: [String: Int] = [:]
    /// Resolved socket addresses of IP-literal endpoints.
    private var addressCache: [String: SocketAddress] = [:]
    /// Open downstream connections, so drain can close idle ones.
    private var connections: [ObjectIdentifier: DownstreamConnectionHandle] = [:]
    private var dateCache: (second: Int, text: String) = (0, "")

    init(eventLoop: EventLoop, services: ProxyServices) {
        self.eventLoop = eventLoop
        self.services = services
        self.pool = UpstreamPool(eventLoop: eventLoop)
    }

    /// Installs a new snapshot and closes idle pooled connections to `removedEndpoints` (`ip:port` of endpoints
    /// that left every cluster). Load-balancer state survives for clusters whose object is unchanged.
    public func install(_ snapshot: GatewaySnapshot, removedEndpoints: Set<String> = []) {
        self.pool.closeIdle(endpoints: removedEndpoints)
        self.snapshot = snapshot
        self.addressCache.removeAll(keepingCapacity: true)
        self.runtimes = self.runtimes.filter { key, value in
            snapshot.clusters[key].map { $0 === value.cluster } ?? false
        }
    }

    /// This loop's state for `cluster`, created on first use and kept while the cluster object is unchanged.
    func runtime(for cluster: Cluster) -> ClusterRuntime {
        if let runtime = self.runtimes[cluster.key], runtime.cluster === cluster { return runtime }
        let runtime = ClusterRuntime(cluster: cluster)
        self.runtimes[cluster.key] = runtime
        return runtime
    }

    func activeRequests(endpointKey: String) -> Int { self.active[endpointKey, default: 0] }
    func activeRequests(cluster: String) -> Int { self.activePerCluster[cluster, default: 0] }

    func requestStarted(endpointKey: String, cluster: String) {
        self.active[endpointKey, default: 0] += 1
        self.activePerCluster[cluster, default: 0] += 1
    }

    func requestEnded(endpointKey: String, cluster: String) {
        if let n = self.active[endpointKey] { self.active[endpointKey] = n > 1 ? n - 1 : nil }
        if let n = self.activePerCluster[cluster] { self.activePerCluster[cluster] = n > 1 ? n - 1 : nil }
    }

    /// The socket address of an IP-literal endpoint, cached for the snapshot's lifetime.
    func socketAddress(ip: String, port: Int) -> SocketAddress? {
        let key = "\(ip):\(port)"
        if let cached = self.addressCache[key] { return cached }
        guard let address = try? SocketAddress(ipAddress: ip, port: port) else { return nil }
        self.addressCache[key] = address
        return address
    }

    /// The IMF-fixdate for the `date` header, recomputed at most once per second.
    var httpDate: String {
        var now = time(nil)
        let second = Int(now)
        if second == self.dateCache.second { return self.dateCache.text }
        var parts = tm()
        gmtime_r(&now, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        self.dateCache = (second, text)
        return text
    }

    func register(_ connection: DownstreamConnectionHandle) {
        self.connections[ObjectIdentifier(connection)] = connection
    }

    func unregister(_ connection: DownstreamConnectionHandle) {
        self.connections[ObjectIdentifier(connection)] = nil
    }

    /// Number of open downstream connections on this loop.
    public var connectionCount: Int { self.connections.count }

    /// Drain: idle connections close now, busy ones after their current response.
    public func startDrain() {
        for connection in self.connections.values { connection.drain() }
        self.pool.closeIdle()
    }

    /// A listener went away on reload: its connections drain like on shutdown (HTTP/2 GOAWAY, HTTP/1.1
    /// `connection: close` after the response in progress), the rest of the gateway is untouched.
    public func drainListener(port: Int) {
        for connection in self.connections.values where connection.listenerPort == port { connection.drain() }
    }
}

/// A downstream connection as the worker sees it (for drain).
protocol DownstreamConnectionHandle: AnyObject {
    var listenerPort: Int { get }
    func drain()
}

@available(*, unavailable)
extension Worker: Sendable {}

/// One `Worker` per event loop, reachable from any thread; `worker(for:)` must be called on that loop.
public final class WorkerSet: Sendable {
    private let boxes: [ObjectIdentifier: NIOLoopBoundBox<Worker>]
    public let services: ProxyServices

    public init(group: MultiThreadedEventLoopGroup, services: ProxyServices) {
        var boxes: [ObjectIdentifier: NIOLoopBoundBox<Worker>] = [:]
        for loop in group.makeIterator() {
            boxes[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(
                Worker(eventLoop: loop, services: services), eventLoop: loop)
        }
        self.boxes = boxes
        self.services = services
    }

    /// The worker of `eventLoop`; call only on that loop.
    public func worker(for eventLoop: EventLoop) -> Worker {
        guard let box = self.boxes[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("event loop not part of the worker set")
        }
        return box.value
    }

    /// Runs `body` on every worker's loop and waits for all of them.
    public func forEach(_ body: @escaping @Sendable (Worker) -> Void) -> EventLoopFuture<Void>? {
        let futures = self.boxes.values.map { box in
            box.eventLoop.submit { body(box.value) }
        }
        guard let first = futures.first else { return nil }
        return EventLoopFuture.andAllSucceed(futures, on: first.eventLoop)
    }

    /// Installs `snapshot` on every loop, closing idle connections to `removedEndpoints`; the future completes
    /// once all have it.
    public func install(_ snapshot: GatewaySnapshot, removedEndpoints: Set<String> = []) -> EventLoopFuture<Void>? {
        self.forEach { $0.install(snapshot, removedEndpoints: removedEndpoints) }
    }

    /// Sum of open downstream connections over all loops.
    public func connectionCount() -> EventLoopFuture<Int>? {
        let futures = self.boxes.values.map { box in box.eventLoop.submit { box.value.connectionCount } }
        guard let first = futures.first else { return nil }
        return EventLoopFuture.reduce(0, futures, on: first.eventLoop, +)
    }
}
