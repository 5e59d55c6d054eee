import Foundation
import GRPCCore
import NIOConcurrencyHelpers
import PortcullisGRPC
import Testing

/// The gRPC client transport over nghttp2 (`PortcullisGRPC`) against Python `grpcio` (`Tests/Fixtures/grpc_peer.py`),
/// driven by grpc-swift-2's `GRPCClient`: every call kind, trailers, error statuses, deadlines, and a server
/// that goes away between calls.
@Suite(.serialized)
struct GRPCTransportTests {
    static let available = GRPCIntegrationTests.available

    /// Messages are raw bytes: the peer's methods echo them.
    struct RawCoder: MessageSerializer, MessageDeserializer {
        func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
        func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
            bytes.withUnsafeBytes { Array($0) }
        }
    }

    static func method(_ name: String) -> MethodDescriptor {
        MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "test.Echo"), method: name)
    }

    private func withClient<T: Sendable>(
        port: Int, _ body: @Sendable (GRPCClient<HTTP2GRPCTransport>) async throws -> T
    ) async throws -> T {
        let transport = HTTP2GRPCTransport(
            configuration: GRPCTransportConfiguration(target: .host("127.0.0.1", port: port), authority: "echo.test"))
        return try await withGRPCClient(transport: transport) { client in try await body(client) }
    }

    @Test(.enabled(if: available)) func everyCallKindWithTrailers() async throws {
        let server = try await PythonPeer(script: "grpc_peer.py", arguments: ["server", "--name", "peer-1"])
        defer { server.stop() }
        try await self.withClient(port: server.port) { client in
            let coder = RawCoder()
            let unary = try await client.unary(
                request: ClientRequest(message: Array("hello".utf8)), descriptor: Self.method("Unary"),
                serializer: coder, deserializer: coder, options: .defaults
            ) { response in response }
            #expect(try String(decoding: unary.message, as: UTF8.self) == "hello")
            #expect(Array(unary.trailingMetadata[stringValues: "x-served-by"]) == ["peer-1"])

            let streamed = try await client.serverStreaming(
                request: ClientRequest(message: Array("3".utf8)), descriptor: Self.method("ServerStream"),
                serializer: coder, deserializer: coder, options: .defaults
            ) { response in
                var messages: [String] = []
                for try await message in response.messages { messages.append(String(decoding: message, as: UTF8.self)) }
                return messages
            }
            #expect(streamed == ["msg-0", "msg-1", "msg-2"])

            let joined = try await client.clientStreaming(
                request: StreamingClientRequest(of: [UInt8].self) { writer in
                    for part in ["a", "b", "c"] { try await writer.write(Array(part.utf8)) }
                },
                descriptor: Self.method("ClientStream"), serializer: coder, deserializer: coder, options: .defaults
            ) { response in try String(decoding: response.message, as: UTF8.self) }
            #expect(joined == "a+b+c")

            let echoed = try await client.bidirectionalStreaming(
                request: StreamingClientRequest(of: [UInt8].self) { writer in
                    for part in ["x", "y"] { try await writer.write(Array(part.utf8)) }
                },
                descriptor: Self.method("Bidi"), serializer: coder, deserializer: coder, options: .defaults
            ) { response in
                var messages: [String] = []
                for try await message in response.messages { messages.append(String(decoding: message, as: UTF8.self)) }
                return messages
            }
            #expect(echoed == ["X", "Y"])
        }
    }

    @Test(.enabled(if: available)) func serverErrorsAndDeadlinesAreStatuses() async throws {
        let server = try await PythonPeer(script: "grpc_peer.py", arguments: ["server"])
        defer { server.stop() }
        try await self.withClient(port: server.port) { client in
            let coder = RawCoder()
            let failure = await #expect(throws: RPCError.self) {
                try await client.unary(
                    request: ClientRequest(message: []), descriptor: Self.method("Fail"),
                    serializer: coder, deserializer: coder, options: .defaults
                ) { try $0.message }
            }
            #expect(failure?.code == .notFound)
            #expect(failure?.message == "no such thing")

            var options = CallOptions.defaults
            options.timeout = .milliseconds(300)
            let timedOut = await #expect(throws: RPCError.self) {
                try await client.unary(
                    request: ClientRequest(message: []), descriptor: Self.method("Sleep"),
                    serializer: coder, deserializer: coder, options: options
                ) { try $0.message }
            }
            #expect(timedOut?.code == .deadlineExceeded)

            let unknown = await #expect(throws: RPCError.self) {
                try await client.unary(
                    request: ClientRequest(message: []), descriptor: Self.method("NoSuchMethod"),
                    serializer: coder, deserializer: coder, options: .defaults
                ) { try $0.message }
            }
            #expect(unknown?.code == .unimplemented)
        }
    }

    @Test(.enabled(if: available)) func unreachableServerIsUnavailableAndANewServerIsUsed() async throws {
        let port = try FreePort.allocate()
        try await self.withClient(port: port) { client in
            let coder = RawCoder()
            let refused = await #expect(throws: RPCError.self) {
                try await client.unary(
                    request: ClientRequest(message: []), descriptor: Self.method("Unary"),
                    serializer: coder, deserializer: coder, options: .defaults
                ) { try $0.message }
            }
            #expect(refused?.code == .unavailable)
        }
        // A server restarted elsewhere: the transport's next call opens a new connection after the old one closed.
        let first = try await PythonPeer(script: "grpc_peer.py", arguments: ["server", "--name", "one"])
        try await self.withClient(port: first.port) { client in
            let coder = RawCoder()
            let before = try await client.unary(
                request: ClientRequest(message: Array("a".utf8)), descriptor: Self.method("Unary"),
                serializer: coder, deserializer: coder, options: .defaults
            ) { $0.trailingMetadata }
            #expect(Array(before[stringValues: "x-served-by"]) == ["one"])
            first.stop()
            let after = await #expect(throws: RPCError.self) {
                try await client.unary(
                    request: ClientRequest(message: []), descriptor: Self.method("Unary"),
                    serializer: coder, deserializer: coder, options: .defaults
                ) { try $0.message }
            }
            #expect(after?.code == .unavailable)
        }
    }
}

extension GRPCTransportTests {
    /// A server that ends a bidirectional call while the client still streams (what a control plane does when
    /// it drops a subscriber): the response side fails with the server's status, the request side stops.
    @Test(.enabled(if: available)) func serverEndingABidiCallWhileTheClientStreams() async throws {
        let server = try await PythonPeer(script: "grpc_peer.py", arguments: ["server"])
        defer { server.stop() }
        try await self.withClient(port: server.port) { client in
            let coder = RawCoder()
            let (outgoing, requests) = AsyncStream.makeStream(of: [UInt8].self)
            requests.yield(Array("first".utf8))
            let received = NIOLockedValueBox<[String]>([])
            let failure = await #expect(throws: RPCError.self) {
                try await client.bidirectionalStreaming(
                    request: StreamingClientRequest(of: [UInt8].self) { writer in
                        for await message in outgoing { try await writer.write(message) }
                    },
                    descriptor: Self.method("BidiAbort"), serializer: coder, deserializer: coder, options: .defaults
                ) { response in
                    defer { requests.finish() }
                    for try await message in response.messages {
                        received.withLockedValue { $0.append(String(decoding: message, as: UTF8.self)) }
                    }
                }
            }
            #expect(failure?.code == .unavailable)
            #expect(failure?.message == "going away")
            #expect(received.withLockedValue { $0 } == ["FIRST"])
        }
    }

    /// `withGRPCClient` cancels the transport's `connect()` when its body throws: that must end it (a hang here
    /// once kept the xDS client from ever reconnecting).
    @Test(.enabled(if: available)) func aThrowingClientBodyEndsTheTransport() async throws {
        let server = try await PythonPeer(script: "grpc_peer.py", arguments: ["server"])
        defer { server.stop() }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await self.withClient(port: server.port) { client in
                _ = try await client.unary(
                    request: ClientRequest(message: Array("x".utf8)), descriptor: Self.method("Unary"),
                    serializer: RawCoder(), deserializer: RawCoder(), options: .defaults
                ) { try $0.message }
                throw Boom()
            }
        }
    }
}
