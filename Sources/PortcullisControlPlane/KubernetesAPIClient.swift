import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisModel
import PortcullisTLS

/// A minimal Kubernetes REST client: `GET` lists and watches over HTTP/1.1, one connection per request.
///
/// Lists are read whole and decoded; watches stream newline-delimited JSON events from the chunked response as
/// they arrive. The bearer token is read from its file for every request, so a rotated service-account token is
/// used as soon as the kubelet writes it (client-go's `BearerTokenFile`); a read failure keeps the last good one.
public struct KubernetesAPIClient: Sendable {
    /// The server and credentials.
    public let config: KubernetesClusterConfig
    private let group: any EventLoopGroup
    private let tlsContext: TLSContext?
    private let lastToken = NIOLockedValueBox<String?>(nil)

    /// Creates a client. Blocking when `config.tls` names files: the TLS context (CA file) is built here, so call
    /// this off the event loops.
    public init(config: KubernetesClusterConfig, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        throws
    {
        self.config = config
        self.group = group
        if let tls = config.tls {
            do {
                self.tlsContext = try TLSContext.client(tls)
            } catch {
                throw KubernetesAPIError.configuration("cannot build the TLS context: \(error)")
            }
        } else {
            self.tlsContext = nil
        }
    }

    /// Lists a collection (`/apis/GROUP/VERSION[/namespaces/NS]/PLURAL`), following `continue` pages.
    ///
    /// Items get the list's `apiVersion` and the item `kind` (the list kind without `List`) when the server leaves
    /// them out, as it does for built-in types, so every item is a complete object for the config loader.
    public func list(
        path: String, limit: Int = 500
    ) async throws -> (items: [KubernetesJSON], resourceVersion: String) {
        var items: [KubernetesJSON] = []
        var continueToken: String?
        var resourceVersion = ""
        repeat {
            var query = ["limit=\(limit)"]
            if let token = continueToken { query.append("continue=" + Self.queryEscape(token)) }
            let list = try await self.getJSON(Self.target(path, query))
            guard let rawItems = list["items"]?.arrayValue ?? (list["items"] == .null ? [] : nil) else {
                throw KubernetesAPIError.invalidResponse("list response of \(path) has no items array")
            }
            let listKind = list["kind"]?.stringValue ?? ""
            let itemKind = listKind.hasSuffix("List") ? String(listKind.dropLast(4)) : nil
            let apiVersion = list["apiVersion"]?.stringValue
            for item in rawItems {
                guard var members = item.objectValue else {
                    throw KubernetesAPIError.invalidResponse("list item of \(path) is not an object")
                }
                if members["kind"] == nil, let itemKind { members["kind"] = .string(itemKind) }
                if members["apiVersion"] == nil, let apiVersion { members["apiVersion"] = .string(apiVersion) }
                items.append(.object(members))
            }
            resourceVersion = list["metadata"]?["resourceVersion"]?.stringValue ?? ""
            continueToken = list["metadata"]?["continue"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        } while continueToken != nil
        guard !resourceVersion.isEmpty else {
            throw KubernetesAPIError.invalidResponse("list response of \(path) has no metadata.resourceVersion")
        }
        return (items, resourceVersion)
    }

    /// Watches a collection from `resourceVersion` with bookmarks on; the server ends the stream cleanly after
    /// `timeoutSeconds`. The stream finishes normally at the end of the response (also right after an `ERROR`
    /// event), and throws when the connection drops mid-response, when no byte arrives for `timeoutSeconds` plus
    /// 30 s, or for an error status (a 410 status means: list again).
    /// `onOpen` runs once the server has accepted the watch (a 200 head), before any event.
    public func watch(
        path: String, resourceVersion: String, timeoutSeconds: Int = 300, onOpen: (@Sendable () -> Void)? = nil
    ) -> AsyncThrowingStream<KubernetesWatchEvent, any Error> {
        let query = [
            "watch=1", "resourceVersion=" + Self.queryEscape(resourceVersion), "allowWatchBookmarks=true",
            "timeoutSeconds=\(timeoutSeconds)",
        ]
        let target = Self.target(path, query)
        let readTimeout = TimeAmount.seconds(Int64(timeoutSeconds) + 30)
        let (stream, continuation) = AsyncThrowingStream<KubernetesWatchEvent, any Error>.makeStream()
        let client = self
        let task = Task {
            do {
                try await client.exchange(target: target, readTimeout: readTimeout) { head, body in
                    guard head.status == .ok else { throw await Self.errorResponse(head, &body) }
                    onOpen?()
                    var lines = LineSplitter(limit: client.config.maxMessageBytes)
                    while let chunk = try await body.next() {
                        for line in try lines.append(chunk) where !line.isEmpty {
                            let json: KubernetesJSON
                            do {
                                json = try KubernetesJSON.parse(line)
                            } catch {
                                throw KubernetesAPIError.invalidResponse("watch line is not JSON: \(error)")
                            }
                            let event = try KubernetesWatchEvent(json: json)
                            continuation.yield(event)
                            if case .error = event { return }
                        }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// `GET target` and the decoded JSON body of a 200 response.
    func getJSON(_ target: String) async throws -> KubernetesJSON {
        let limit = self.config.maxMessageBytes
        let body = try await self.exchange(target: target, readTimeout: .seconds(60)) { head, body in
            guard head.status == .ok else { throw await Self.errorResponse(head, &body) }
            return try await body.collect(limit: limit)
        }
        do {
            return try KubernetesJSON.parse(body.readableBytesView)
        } catch {
            throw KubernetesAPIError.invalidResponse("\(target): body is not JSON: \(error)")
        }
    }

    /// The error for a non-200 response: its Status body when there is one, else the HTTP status line.
    private static func errorResponse(
        _ head: HTTPResponseHead, _ body: inout ResponseBody
    ) async -> KubernetesAPIError {
        let bytes = (try? await body.collect(limit: 1 << 20)) ?? ByteBuffer()
        var status = KubernetesStatus(code: Int(head.status.code), reason: head.status.reasonPhrase, message: "")
        if let json = try? KubernetesJSON.parse(bytes.readableBytesView), json["kind"]?.stringValue == "Status" {
            let parsed = KubernetesStatus(json: json)
            status.reason = parsed.reason.isEmpty ? status.reason : parsed.reason
            status.message = parsed.message
        } else {
            status.message = String(decoding: bytes.readableBytesView.prefix(512), as: UTF8.self)
        }
        let retryAfter = head.headers.first(name: "retry-after").flatMap { Int($0) }
        return .status(status, retryAfter: retryAfter)
    }

    /// The bearer token for the next request: the token file's current content, else the last good content,
    /// else the fixed token.
    func currentToken() -> String? {
        guard let file = self.config.tokenFile else { return self.config.token }
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty {
                self.lastToken.withLockedValue { $0 = token }
                return token
            }
        }
        return self.lastToken.withLockedValue { $0 } ?? self.config.token
    }

    /// Opens a connection, sends `GET target` and hands the response head and body reader to `handle`; the
    /// connection is closed when `handle` returns or throws.
    private func exchange<Result: Sendable>(
        target: String, readTimeout: TimeAmount,
        _ handle: (HTTPResponseHead, inout ResponseBody) async throws -> Result
    ) async throws -> Result {
        let tls = self.tlsContext
        let host = self.config.host
        let serverName = self.config.tls?.serverName ?? host
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: self.group)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: self.config.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tls { try sync.addHandler(TLSClientHandler(context: tls, serverName: serverName)) }
                        try sync.addHandler(IdleStateHandler(readTimeout: readTimeout))
                        try sync.addHandler(ReadTimeoutHandler())
                        try sync.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw KubernetesAPIError.connectionClosed("cannot connect to \(host):\(self.config.port): \(error)")
        }
        var headers = HTTPHeaders()
        let authority = host.contains(":") ? "[\(host)]" : host
        headers.add(name: "host", value: "\(authority):\(self.config.port)")
        headers.add(name: "accept", value: "application/json")
        headers.add(name: "user-agent", value: "portcullis")
        if let token = self.currentToken() { headers.add(name: "authorization", value: "Bearer " + token) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            var body = ResponseBody(iterator: inbound.makeAsyncIterator())
            let responseHead: HTTPResponseHead
            do {
                guard case .head(let first) = try await body.iterator.next() else {
                    throw KubernetesAPIError.connectionClosed("no response to GET \(target)")
                }
                responseHead = first
            } catch let error as KubernetesAPIError {
                throw error
            } catch {
                throw KubernetesAPIError.connectionClosed("GET \(target): \(error)")
            }
            return try await handle(responseHead, &body)
        }
    }

    /// `path?query` with `query` joined by `&`, appended after any query `path` already has.
    static func target(_ path: String, _ query: [String]) -> String {
        guard !query.isEmpty else { return path }
        return path + (path.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    /// Percent-encodes a query value.
    static func queryEscape(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// Reads the body parts of one response.
struct ResponseBody {
    var iterator: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    /// The next body chunk; nil at the end of the response. Throws when the connection ends first.
    mutating func next() async throws -> ByteBuffer? {
        let part: HTTPClientResponsePart?
        do {
            part = try await self.iterator.next()
        } catch let error as KubernetesAPIError {
            throw error
        } catch {
            throw KubernetesAPIError.connectionClosed("\(error)")
        }
        switch part {
        case .body(let buffer): return buffer
        case .end: return nil
        case .head: throw KubernetesAPIError.invalidResponse("a second response head")
        case nil: throw KubernetesAPIError.connectionClosed("response body incomplete")
        }
    }

    /// The whole remaining body, refusing more than `limit` bytes.
    mutating func collect(limit: Int) async throws -> ByteBuffer {
        var all = ByteBuffer()
        while var chunk = try await self.next() {
            guard all.readableBytes + chunk.readableBytes <= limit else {
                throw KubernetesAPIError.invalidResponse("response body larger than \(limit) bytes")
            }
            all.writeBuffer(&chunk)
        }
        return all
    }
}

/// Splits a byte stream into `\n`-terminated lines (a trailing `\r` is dropped).
struct LineSplitter {
    let limit: Int
    private var pending: [UInt8] = []

    init(limit: Int) {
        self.limit = limit
    }

    /// The lines completed by `chunk`; an unterminated tail is kept for the next chunk.
    mutating func append(_ chunk: ByteBuffer) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        let view = chunk.readableBytesView
        var start = view.startIndex
        while let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            self.pending.append(contentsOf: view[start..<newline])
            if self.pending.last == UInt8(ascii: "\r") { self.pending.removeLast() }
            try self.checkLimit()
            lines.append(self.pending)
            self.pending.removeAll(keepingCapacity: true)
            start = newline + 1
        }
        self.pending.append(contentsOf: view[start...])
        try self.checkLimit()
        return lines
    }

    private func checkLimit() throws {
        guard self.pending.count <= self.limit else {
            throw KubernetesAPIError.invalidResponse("watch line longer than \(self.limit) bytes")
        }
    }
}

/// Turns the read-idle event of an `IdleStateHandler` into a `.timedOut` error and closes the connection.
private final class ReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.fireErrorCaught(KubernetesAPIError.timedOut)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
