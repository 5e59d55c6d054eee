import GRPCCore
import NIOCore

/// gRPC's length-prefixed messages (one flag byte, a 4-byte big-endian length, the bytes) inside HTTP/2 DATA.
/// Compression is not negotiated, so a message flagged compressed is a protocol error.
struct GRPCMessageDeframer {
    /// The largest message accepted; a bigger one fails the call with RESOURCE_EXHAUSTED.
    let maxMessageBytes: Int
    private var buffer = ByteBuffer()

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes waiting for the rest of their message.
    var pendingBytes: Int { self.buffer.readableBytes }

    mutating func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        self.buffer.writeBuffer(&bytes)
    }

    /// The next complete message, nil when more bytes are needed.
    mutating func next() throws -> [UInt8]? {
        guard self.buffer.readableBytes >= 5,
            let flag = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt8.self),
            let length = self.buffer.getInteger(at: self.buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        guard flag == 0 else {
            throw RPCError(code: .internalError, message: "received a compressed message; no compression was negotiated")
        }
        guard Int(length) <= self.maxMessageBytes else {
            throw RPCError(
                code: .resourceExhausted,
                message: "message of \(length) bytes exceeds the limit of \(self.maxMessageBytes) bytes")
        }
        guard self.buffer.readableBytes >= 5 + Int(length) else { return nil }
        self.buffer.moveReaderIndex(forwardBy: 5)
        let message = self.buffer.readBytes(length: Int(length)) ?? []
        self.buffer.discardReadBytes()
        return message
    }

    /// Frames one uncompressed message.
    static func frame(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5 + message.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        return buffer
    }
}
