import NIOCore
import PortcullisHTTP2

/// A client and a server session wired back to back in memory.
final class SessionPair {
    let client: HTTP2ClientSession
    let server: HTTP2ServerSession
    var clientEvents: [HTTP2ClientEvent] = []
    var serverEvents: [HTTP2ServerEvent] = []

    init(client: HTTP2Settings = HTTP2Settings(), server: HTTP2Settings = HTTP2Settings()) throws {
        self.client = try HTTP2ClientSession(settings: client)
        self.server = try HTTP2ServerSession(settings: server)
    }

    /// Moves bytes both ways until neither side has anything to write; collects the events.
    func pump() throws {
        var moved = true
        while moved {
            moved = false
            if let bytes = self.client.pendingOutput() {
                self.serverEvents += try self.server.receive(bytes)
                moved = true
            }
            if let bytes = self.server.pendingOutput() {
                self.clientEvents += try self.client.receive(bytes)
                moved = true
            }
        }
    }

    func takeClientEvents() -> [HTTP2ClientEvent] {
        defer { self.clientEvents = [] }
        return self.clientEvents
    }

    func takeServerEvents() -> [HTTP2ServerEvent] {
        defer { self.serverEvents = [] }
        return self.serverEvents
    }
}

/// Shorthand for header lists.
func headers(_ pairs: [(String, String)]) -> [HTTP2Header] {
    pairs.map { HTTP2Header(name: $0.0, value: $0.1) }
}

/// A plain GET head.
func getRequest(path: String = "/") -> [HTTP2Header] {
    headers([(":method", "GET"), (":scheme", "https"), (":authority", "example.com"), (":path", path)])
}

/// One raw frame, as parsed from output or built for input.
struct RawFrame: Equatable {
    var type: UInt8
    var flags: UInt8
    var streamID: Int32
    var payload: [UInt8]

    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let priority: UInt8 = 0x2
    static let rstStream: UInt8 = 0x3
    static let settings: UInt8 = 0x4
    static let ping: UInt8 = 0x6
    static let goAway: UInt8 = 0x7
    static let windowUpdate: UInt8 = 0x8
    static let continuation: UInt8 = 0x9

    /// A PRIORITY frame (RFC 9113 §6.3): depends on stream 0, weight 16.
    static func priorityFrame(_ streamID: Int32) -> [UInt8] {
        RawFrame(type: RawFrame.priority, flags: 0, streamID: streamID, payload: [0, 0, 0, 0, 15]).bytes
    }

    /// A WINDOW_UPDATE frame (RFC 9113 §6.9) of `increment` bytes.
    static func windowUpdateFrame(_ streamID: Int32, increment: UInt32 = 1) -> [UInt8] {
        let payload = [UInt8(increment >> 24 & 0x7F), UInt8(increment >> 16 & 0xFF), UInt8(increment >> 8 & 0xFF),
            UInt8(increment & 0xFF)]
        return RawFrame(type: RawFrame.windowUpdate, flags: 0, streamID: streamID, payload: payload).bytes
    }

    /// The frame's wire bytes (RFC 9113 §4.1).
    var bytes: [UInt8] {
        let length = self.payload.count
        var out: [UInt8] = [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        out += [self.type, self.flags]
        let id = UInt32(bitPattern: self.streamID)
        out += [UInt8(id >> 24 & 0x7F), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
        return out + self.payload
    }

    /// The error code of a RST_STREAM or GOAWAY payload.
    var errorCode: UInt32 {
        let start = self.type == RawFrame.goAway ? 4 : 0
        return self.payload[start..<start + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits server output into frames (the output has no preface).
    static func parse(_ buffer: ByteBuffer) -> [RawFrame] {
        var buffer = buffer
        var frames: [RawFrame] = []
        while buffer.readableBytes >= 9, let bytes = buffer.readBytes(length: 9) {
            let length = Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
            let id = Int32(bytes[5] & 0x7F) << 24 | Int32(bytes[6]) << 16 | Int32(bytes[7]) << 8 | Int32(bytes[8])
            let payload = buffer.readBytes(length: length) ?? []
            frames.append(RawFrame(type: bytes[3], flags: bytes[4], streamID: id, payload: payload))
        }
        return frames
    }
}

/// The client connection preface plus an empty SETTINGS frame.
let clientPreface: [UInt8] =
    Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    + RawFrame(type: RawFrame.settings, flags: 0, streamID: 0, payload: []).bytes

/// An HPACK block for `GET https://a/`: static indices 2, 7, 4 and a literal `:authority` (RFC 7541 App. A).
let getBlock: [UInt8] = [0x82, 0x87, 0x84, 0x01, 0x01, UInt8(ascii: "a")]

/// Wraps bytes into a ByteBuffer.
func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}
