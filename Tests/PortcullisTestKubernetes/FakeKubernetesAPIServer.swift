import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisControlPlane
import PortcullisModel

/// A fault-injecting Kubernetes API server on 127.0.0.1:0 that follows the real wire format (CONTROL-PLANE §5.4).
///
/// - One global resource version (an integer rendered as a string) bumped by every write; objects carry
///   `metadata.{name,namespace,uid,resourceVersion,creationTimestamp}`, and custom resources `metadata.generation`.
/// - LIST: `{"kind":"GatewayList","apiVersion":"networking.istio.io/v1","metadata":{"resourceVersion":"N"},
///   "items":[...]}` (items with `kind`/`apiVersion` for custom resources, without for Secrets, as the real
///   server does for built-in types).
/// - WATCH (`watch=1`): HTTP 200, chunked, one `{"type":...,"object":...}` line per event, replaying the bounded
///   history strictly after the requested version, then live events. A version older than the history gets one
///   `ERROR` line with a `Status` of code 410 (`Expired`) and the stream ends, as the etcd path does.
///   `BOOKMARK` objects carry only `kind`, `apiVersion` and `metadata.resourceVersion`, and are sent only to
///   watches that asked with `allowWatchBookmarks=true`. `timeoutSeconds` ends the watch cleanly.
/// - Fault knobs: queued error statuses for lists or watches, truncating open watches mid-line, `ERROR` 410 to open
///   watches, expiring the history, writes that open watches do not see.
/// - A required bearer token when `requiredToken` is set (401 with a Status otherwise).
public final class FakeKubernetesAPIServer: Sendable {
    /// What a request was.
    public enum Verb: Sendable, Hashable {
        case list
        case watch
    }

    /// One request as received.
    public struct Request: Sendable {
        public var verb: Verb
        public var path: String
        public var query: [String: String]
        public var authorization: String?
    }

    private struct HistoryEntry: Sendable {
        var version: Int
        var type: String
        var object: KubernetesJSON
    }

    private struct Watcher: Sendable {
        var id: Int
        var plural: String
        var namespace: String?
        /// From a `metadata.name=NAME` field selector.
        var name: String?
        var bookmarks: Bool
        /// The group/version of the watch path: objects are served converted to it, as the real server does.
        var apiVersion: String
        var channel: any Channel
    }

    private struct State: Sendable {
        var version = 1
        var objects: [String: [String: KubernetesJSON]] = [:]
        var history: [String: [HistoryEntry]] = [:]
        /// Watches from a version below this get 410.
        var oldestWatchable = 0
        var historyLimit = 100
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
        var requests: [Request] = []
        var failures: [(verb: Verb, code: Int, retryAfter: Int?)] = []
        var requiredToken: String?
        /// Group-version prefixes (`/apis/discovery.k8s.io/v1/`) answered 404, as a server that does not serve them.
        var unserved: Set<String> = []
    }

    public let channel: any Channel
    private let state = NIOLockedValueBox(State())

    public var port: Int { self.channel.localAddress!.port! }
    public var requests: [Request] { self.state.withLockedValue { $0.requests } }
    public var lists: [Request] { self.requests.filter { $0.verb == .list } }
    public var watches: [Request] { self.requests.filter { $0.verb == .watch } }
    public var openWatches: Int { self.state.withLockedValue { $0.watchers.count } }
    public var resourceVersion: String { self.state.withLockedValue { String($0.version) } }

    /// Group-version path prefixes answered 404 (e.g. `/apis/discovery.k8s.io/v1/`).
    public var unserved: Set<String> {
        get { self.state.withLockedValue { $0.unserved } }
        set { self.state.withLockedValue { $0.unserved = newValue } }
    }

    /// The bearer token requests must carry; nil accepts any request.
    public var requiredToken: String? {
        get { self.state.withLockedValue { $0.requiredToken } }
        set { self.state.withLockedValue { $0.requiredToken = newValue } }
    }

    private init(channel: any Channel) {
        self.channel = channel
    }

    public static func start() async throws -> FakeKubernetesAPIServer {
        let box = NIOLockedValueBox<FakeKubernetesAPIServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        FakeAPIHandler { head, channel in box.withLockedValue { $0 }?.handle(head, channel) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = FakeKubernetesAPIServer(channel: channel)
        box.withLockedValue { $0 = server }
        return server
    }

    public func stop() async {
        let watchers = self.state.withLockedValue { state in
            defer { state.watchers = [:] }
            return Array(state.watchers.values)
        }
        for watcher in watchers { try? await watcher.channel.close() }
        try? await self.channel.close()
    }

    /// A client configuration for this server (plain HTTP).
    public func clientConfig(tokenFile: String? = nil) -> KubernetesClusterConfig {
        KubernetesClusterConfig(host: "127.0.0.1", port: self.port, tokenFile: tokenFile)
    }

    // MARK: - Writes

    /// Creates or replaces an object; returns its new resource version. With `notify: false` open watches do not
    /// see the change (as if the event had been lost while the watch was down) and it leaves no history.
    @discardableResult
    public func put(
        _ plural: String, namespace: String, name: String, spec: KubernetesJSON, notify: Bool = true,
        extra: [String: KubernetesJSON] = [:], labels: [String: String] = [:]
    ) -> String {
        self.state.withLockedValue { state in
            state.version += 1
            let key = namespace + "/" + name
            let previous = state.objects[plural]?[key]
            let generation = (previous?["metadata"]?["generation"]?.intValue ?? 0) + 1
            let uid = previous?["metadata"]?["uid"] ?? .string(UUID().uuidString.lowercased())
            var members: [String: KubernetesJSON] = [
                "apiVersion": .string(Self.apiVersion(plural)), "kind": .string(Self.kind(plural)),
                "metadata": .object([
                    "name": .string(name), "namespace": .string(namespace), "uid": uid,
                    "resourceVersion": .string(String(state.version)),
                    "creationTimestamp": .string("2026-01-01T00:00:00Z"),
                ]),
            ]
            // Custom resources carry a generation; built-in kinds such as Secrets do not (checked against a real
            // kube-apiserver by KubernetesFakeConformanceTests).
            if !Self.isBuiltIn(plural), case .object(var metadata) = members["metadata"]! {
                metadata["generation"] = .integer(Int64(generation))
                members["metadata"] = .object(metadata)
            }
            if plural != "secrets", plural != "endpointslices", plural != "configmaps" { members["spec"] = spec }
            for (field, value) in extra { members[field] = value }
            if !labels.isEmpty, case .object(var metadata) = members["metadata"]! {
                metadata["labels"] = .object(labels.mapValues { .string($0) })
                members["metadata"] = .object(metadata)
            }
            let object = KubernetesJSON.object(members)
            state.objects[plural, default: [:]][key] = object
            if notify {
                Self.record(&state, plural: plural, type: previous == nil ? "ADDED" : "MODIFIED", object: object)
            }
            return String(state.version)
        }
    }

    /// Deletes an object; returns the deletion's resource version.
    @discardableResult
    public func delete(_ plural: String, namespace: String, name: String, notify: Bool = true) -> String {
        self.state.withLockedValue { state in
            state.version += 1
            let key = namespace + "/" + name
            guard var object = state.objects[plural]?.removeValue(forKey: key)?.objectValue else {
                return String(state.version)
            }
            var metadata = object["metadata"]?.objectValue ?? [:]
            metadata["resourceVersion"] = .string(String(state.version))
            object["metadata"] = .object(metadata)
            if notify { Self.record(&state, plural: plural, type: "DELETED", object: .object(object)) }
            return String(state.version)
        }
    }

    /// Bumps the global resource version without touching `plural` (a write elsewhere), then sends a BOOKMARK at
    /// the new version to open watches of `plural` that allow bookmarks. Returns the bookmark's version.
    @discardableResult
    public func bookmark(_ plural: String) -> String {
        self.state.withLockedValue { state in
            state.version += 1
            let object = KubernetesJSON.object([
                "kind": .string(Self.kind(plural)), "apiVersion": .string(Self.apiVersion(plural)),
                "metadata": .object(["resourceVersion": .string(String(state.version))]),
            ])
            for watcher in state.watchers.values where watcher.plural == plural && watcher.bookmarks {
                Self.send(watcher.channel, Self.line(type: "BOOKMARK", object: object))
            }
            return String(state.version)
        }
    }

    /// Forgets the event history: from now on a watch from any version before the current one gets 410.
    public func expireHistory() {
        self.state.withLockedValue { state in
            state.history = [:]
            state.oldestWatchable = state.version
        }
    }

    /// Sends `ERROR` 410 to every open watch and ends it (what a watch-cache restart looks like).
    public func sendGoneToOpenWatches() {
        self.closeWatches { watcher, state in
            Self.send(watcher.channel, Self.goneLine(requested: "?", current: state.version))
            Self.end(watcher.channel)
        }
    }

    /// Writes one half of an event line to every open watch and drops the TCP connection (no final chunk).
    public func truncateOpenWatches() {
        self.closeWatches { watcher, _ in
            let buffer = ByteBuffer(string: "{\"type\":\"MODIFIED\",\"object\":{\"kind\":")
            watcher.channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
            watcher.channel.close(promise: nil)
        }
    }

    /// Ends every open watch cleanly, as the server's `timeoutSeconds` does.
    public func endOpenWatches() {
        self.closeWatches { watcher, _ in Self.end(watcher.channel) }
    }

    /// Answers the next `count` requests of `verb` with `code` and a Status body.
    public func failNext(_ count: Int, _ verb: Verb, code: Int, retryAfter: Int? = nil) {
        self.state.withLockedValue { state in
            for _ in 0..<count { state.failures.append((verb, code, retryAfter)) }
        }
    }

    private func closeWatches(_ action: (Watcher, State) -> Void) {
        self.state.withLockedValue { state in
            for watcher in state.watchers.values { action(watcher, state) }
            state.watchers = [:]
        }
    }

    private static func record(_ state: inout State, plural: String, type: String, object: KubernetesJSON) {
        state.history[plural, default: []].append(HistoryEntry(version: state.version, type: type, object: object))
        if state.history[plural]!.count > state.historyLimit {
            let dropped = state.history[plural]!.removeFirst()
            state.oldestWatchable = max(state.oldestWatchable, dropped.version)
        }
        for watcher in state.watchers.values where watcher.plural == plural {
            if let namespace = watcher.namespace, object.namespace != namespace { continue }
            if let name = watcher.name, object["metadata"]?["name"]?.stringValue != name { continue }
            Self.send(watcher.channel, Self.line(type: type, object: Self.converted(object, to: watcher.apiVersion)))
        }
    }

    // MARK: - Requests

    private func handle(_ head: HTTPRequestHead, _ channel: any Channel) {
        let (path, query) = Self.split(head.uri)
        let verb: Verb = query["watch"] == "1" || query["watch"] == "true" ? .watch : .list
        let authorization = head.headers.first(name: "authorization")
        let watcher: Int? = self.state.withLockedValue { state in
            state.requests.append(Request(verb: verb, path: path, query: query, authorization: authorization))
            if let token = state.requiredToken, authorization != "Bearer " + token {
                Self.respond(channel, code: 401, body: Self.status(401, "Unauthorized", "Unauthorized"))
                return nil
            }
            if let index = state.failures.firstIndex(where: { $0.verb == verb }) {
                let failure = state.failures.remove(at: index)
                let reason = failure.code == 410 ? "Expired" : "InternalError"
                Self.respond(
                    channel, code: failure.code, body: Self.status(failure.code, reason, "injected failure"),
                    retryAfter: failure.retryAfter)
                return nil
            }
            guard let (plural, namespace) = Self.collection(path),
                !state.unserved.contains(where: { path.hasPrefix($0) })
            else {
                Self.respond(channel, code: 404, body: Self.status(404, "NotFound", "the server could not find it"))
                return nil
            }
            let apiVersion = Self.groupVersion(path) ?? Self.apiVersion(plural)
            switch verb {
            case .list:
                Self.list(
                    &state, channel, plural: plural, namespace: namespace, name: Self.selectedName(query),
                    apiVersion: apiVersion)
                return nil
            case .watch:
                return Self.watch(
                    &state, channel, plural: plural, namespace: namespace, query: query, apiVersion: apiVersion)
            }
        }
        if let watcher {
            channel.closeFuture.whenComplete { _ in
                self.state.withLockedValue { _ = $0.watchers.removeValue(forKey: watcher) }
            }
        }
    }

    /// The name of a `metadata.name=NAME` field selector (the only kind this server understands).
    private static func selectedName(_ query: [String: String]) -> String? {
        guard let selector = query["fieldSelector"], selector.hasPrefix("metadata.name=") else { return nil }
        return String(selector.dropFirst("metadata.name=".count))
    }

    private static func list(
        _ state: inout State, _ channel: any Channel, plural: String, namespace: String?, name: String?,
        apiVersion: String
    ) {
        let objects = (state.objects[plural] ?? [:]).filter {
            (namespace == nil || $0.value.namespace == namespace)
                && (name == nil || $0.value["metadata"]?["name"]?.stringValue == name)
        }
        // Built-in types (here: Secrets) come without `kind`/`apiVersion` in list items; custom resources with.
        let items = objects.keys.sorted().map { key -> String in
            guard Self.isBuiltIn(plural), var members = objects[key]!.objectValue else {
                return Self.converted(objects[key]!, to: apiVersion).serialized
            }
            members["kind"] = nil
            members["apiVersion"] = nil
            return KubernetesJSON.object(members).serialized
        }.joined(separator: ",")
        let body = "{\"kind\":\"\(Self.kind(plural))List\",\"apiVersion\":\"\(apiVersion)\","
            + "\"metadata\":{\"resourceVersion\":\"\(state.version)\"},\"items\":[\(items)]}"
        Self.respond(channel, code: 200, body: body)
    }

    private static func watch(
        _ state: inout State, _ channel: any Channel, plural: String, namespace: String?, query: [String: String],
        apiVersion: String
    ) -> Int? {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "transfer-encoding", value: "chunked")
        // The real server flushes the head at once (before any event), so a client knows the watch is accepted.
        channel.writeAndFlush(
            HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)),
            promise: nil)
        let requested = Int(query["resourceVersion"] ?? "") ?? 0
        if requested < state.oldestWatchable {
            Self.send(channel, Self.goneLine(requested: String(requested), current: state.version))
            Self.end(channel)
            return nil
        }
        for entry in state.history[plural] ?? [] where entry.version > requested {
            if let namespace, entry.object.namespace != namespace { continue }
            if let name = Self.selectedName(query), entry.object["metadata"]?["name"]?.stringValue != name { continue }
            Self.send(channel, Self.line(type: entry.type, object: Self.converted(entry.object, to: apiVersion)))
        }
        state.nextWatcher += 1
        let id = state.nextWatcher
        state.watchers[id] = Watcher(
            id: id, plural: plural, namespace: namespace, name: Self.selectedName(query),
            bookmarks: query["allowWatchBookmarks"] == "true", apiVersion: apiVersion, channel: channel)
        if let seconds = Int64(query["timeoutSeconds"] ?? "") {
            channel.eventLoop.scheduleTask(in: .seconds(seconds)) { Self.end(channel) }
        }
        return id
    }

    // MARK: - Wire format

    /// `group/version` (or `v1` for the core group) of a request path.
    private static func groupVersion(_ path: String) -> String? {
        let parts = path.split(separator: "/")
        if parts.first == "apis", parts.count >= 3 { return "\(parts[1])/\(parts[2])" }
        if parts.first == "api", parts.count >= 2 { return String(parts[1]) }
        return nil
    }

    /// An object as served under `apiVersion` (the schemas here are the same in every version).
    private static func converted(_ object: KubernetesJSON, to apiVersion: String) -> KubernetesJSON {
        guard var members = object.objectValue, members["apiVersion"] != nil else { return object }
        members["apiVersion"] = .string(apiVersion)
        return .object(members)
    }

    private static func line(type: String, object: KubernetesJSON) -> String {
        "{\"type\":\"\(type)\",\"object\":\(object.serialized)}\n"
    }

    private static func goneLine(requested: String, current: Int) -> String {
        let status = Self.status(410, "Expired", "too old resource version: \(requested) (\(current))")
        return "{\"type\":\"ERROR\",\"object\":\(status)}\n"
    }

    private static func status(_ code: Int, _ reason: String, _ message: String) -> String {
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
            + "\"message\":\"\(message)\",\"reason\":\"\(reason)\",\"code\":\(code)}"
    }

    private static func send(_ channel: any Channel, _ text: String) {
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))), promise: nil)
    }

    private static func end(_ channel: any Channel) {
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
    }

    private static func respond(_ channel: any Channel, code: Int, body: String, retryAfter: Int? = nil) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.utf8.count))
        if let retryAfter { headers.add(name: "retry-after", value: String(retryAfter)) }
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: code), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    private static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                let value = kv.count == 2 ? String(kv[1]).removingPercentEncoding ?? String(kv[1]) : ""
                query[String(kv[0])] = value
            }
        }
        return (parts.first.map(String.init) ?? uri, query)
    }

    /// `(plural, namespace)` of a collection path.
    private static func collection(_ path: String) -> (String, String?)? {
        var parts = path.split(separator: "/").map(String.init)
        if parts.first == "apis", parts.count >= 4 {
            parts.removeFirst(3)
        } else if parts.first == "api", parts.count >= 3 {
            parts.removeFirst(2)
        } else {
            return nil
        }
        if parts.count == 3, parts[0] == "namespaces" { return (parts[2], parts[1]) }
        if parts.count == 1 { return (parts[0], nil) }
        return nil
    }

    public static func kind(_ plural: String) -> String {
        switch plural {
        case "gateways": "Gateway"
        case "virtualservices": "VirtualService"
        case "destinationrules": "DestinationRule"
        case "serviceentries": "ServiceEntry"
        case "secrets": "Secret"
        case "services": "Service"
        case "pods": "Pod"
        case "endpointslices": "EndpointSlice"
        case "authorizationpolicies": "AuthorizationPolicy"
        case "configmaps": "ConfigMap"
        default: plural
        }
    }

    public static func apiVersion(_ plural: String) -> String {
        switch plural {
        case "secrets", "services", "pods", "configmaps": "v1"
        case "endpointslices": "discovery.k8s.io/v1"
        case "authorizationpolicies": "security.istio.io/v1"
        default: "networking.istio.io/v1"
        }
    }

    /// Built-in types come without `kind`/`apiVersion` in list items.
    public static func isBuiltIn(_ plural: String) -> Bool {
        ["secrets", "services", "pods", "endpointslices", "configmaps"].contains(plural)
    }
}

/// Hands each complete request head to the server; the server answers through the channel.
private final class FakeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let onRequest: @Sendable (HTTPRequestHead, any Channel) -> Void
    private var head: HTTPRequestHead?

    init(onRequest: @escaping @Sendable (HTTPRequestHead, any Channel) -> Void) {
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            if let head = self.head { self.onRequest(head, context.channel) }
            self.head = nil
        }
    }
}
