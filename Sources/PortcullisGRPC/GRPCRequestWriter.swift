import GRPCCore
import PortcullisHTTP2

/// The request side of one call: the first part (metadata) sends the HTTP/2 request head, each message is
/// framed into DATA, and finishing half-closes the stream.
struct GRPCRequestWriter: ClosableRPCWriterProtocol {
    typealias Element = RPCRequestPart<[UInt8]>

    let connection: GRPCConnection
    let token: UInt64
    let path: String
    let authority: String
    let scheme: String
    let timeout: Duration?

    func write(_ element: Element) async throws {
        switch element {
        case .metadata(let metadata):
            let headers = GRPCHeaders.request(
                path: self.path, authority: self.authority, scheme: self.scheme, timeout: self.timeout,
                metadata: metadata)
            try await self.connection.start(self.token, headers: headers)
        case .message(let bytes):
            try await self.connection.send(self.token, message: bytes)
        }
    }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { try await self.write(element) }
    }

    func finish() async {
        await self.connection.finishRequests(self.token)
    }

    func finish(throwing error: any Error) async {
        self.connection.cancel(self.token, error: error)
    }
}
