import NIOCore

/// Reads the SNI and ALPN offer from a TLS ClientHello without terminating TLS, for PASSTHROUGH routing
/// (ISTIO-SEMANTICS.md §2.10, Envoy's `tls_inspector`).
///
/// Parses TLS records (RFC 8446 §5.1) of type `handshake`, reassembling a ClientHello split over several records,
/// then the ClientHello (RFC 8446 §4.1.2), the `server_name` extension (RFC 6066 §3) and the
/// `application_layer_protocol_negotiation` extension (RFC 7301 §3.1). The handshake message may be at most
/// ``maximumLength`` bytes; a longer one is reported as `.notTLS` so a caller never buffers without bound.
public enum ClientHelloParser {
    /// The outcome of ``parse(_:)``.
    public enum Result: Sendable, Hashable {
        /// The bytes so far are a valid prefix of a ClientHello; read more and parse again.
        case needMore
        /// Not a TLS ClientHello (or one beyond ``ClientHelloParser/maximumLength``).
        case notTLS
        /// A complete ClientHello: the `host_name` SNI if sent, and the offered ALPN protocols in order.
        case hello(serverName: String?, alpn: [String])
    }

    /// The largest ClientHello handshake message accepted, header included.
    public static let maximumLength = 16_384

    /// Parses the readable bytes of `bytes` (the start of a connection) without consuming them.
    public static func parse(_ bytes: ByteBuffer) -> Result {
        bytes.withUnsafeReadableBytes { Self.parse(raw: $0) }
    }

    static func parse(raw input: UnsafeRawBufferPointer) -> Result {
        var message: [UInt8] = []
        var offset = 0
        var messageLength: Int?
        while messageLength.map({ message.count < $0 }) ?? true {
            // Record header: type 22 (handshake), legacy_version 3.x, 16-bit length.
            let available = input.count - offset
            if available >= 1 && input[offset] != 22 {
                return .notTLS
            }
            if available >= 2 && input[offset + 1] != 3 {
                return .notTLS
            }
            guard available >= 5 else {
                return .needMore
            }
            let recordLength = Int(input[offset + 3]) << 8 | Int(input[offset + 4])
            guard recordLength > 0 && recordLength <= 16_384 else {
                return .notTLS
            }
            let fragmentStart = offset + 5
            let fragmentEnd = min(fragmentStart + recordLength, input.count)
            message.append(contentsOf: input[fragmentStart..<fragmentEnd])
            if messageLength == nil, message.count >= 1, message[0] != 1 {
                return .notTLS
            }
            if messageLength == nil, message.count >= 4 {
                let length = Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
                guard length + 4 <= Self.maximumLength else {
                    return .notTLS
                }
                messageLength = length + 4
            }
            guard fragmentEnd == fragmentStart + recordLength else {
                return message.count >= (messageLength ?? Int.max) ? Self.parseClientHello(message) : .needMore
            }
            offset = fragmentEnd
        }
        return Self.parseClientHello(message)
    }

    /// The `host_name` in a `server_name` extension body: `nil` when malformed, `""` when it holds no host name.
    static func serverName(extension body: UnsafeRawBufferPointer) -> String? {
        var cursor = ByteCursor(Array(body))
        return Self.parseServerName(&cursor)
    }
}

extension ClientHelloParser {
    private static func parseClientHello(_ message: [UInt8]) -> Result {
        guard let length = message.count >= 4 ? Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3]) : nil
        else {
            return .needMore
        }
        var cursor = ByteCursor(Array(message[4..<4 + length]))
        guard cursor.skip(2 + 32),  // legacy_version, random
            let sessionID = cursor.u8(), sessionID <= 32, cursor.skip(Int(sessionID)),
            let suites = cursor.u16(), suites >= 2, suites % 2 == 0, cursor.skip(suites),
            let compression = cursor.u8(), compression >= 1, cursor.skip(Int(compression))
        else {
            return .notTLS
        }
        if cursor.isAtEnd {
            return .hello(serverName: nil, alpn: [])
        }
        guard let extensionsLength = cursor.u16(), var extensions = cursor.sub(extensionsLength), cursor.isAtEnd
        else {
            return .notTLS
        }
        var serverName: String?
        var alpn: [String] = []
        var seen: Set<Int> = []
        while !extensions.isAtEnd {
            guard let type = extensions.u16(), let bodyLength = extensions.u16(),
                var body = extensions.sub(bodyLength), seen.insert(type).inserted
            else {
                return .notTLS
            }
            switch type {
            case 0:
                guard let name = Self.parseServerName(&body) else {
                    return .notTLS
                }
                serverName = name.isEmpty ? nil : name
            case 16:
                guard let protocols = Self.parseALPN(&body) else {
                    return .notTLS
                }
                alpn = protocols
            default:
                continue
            }
        }
        return .hello(serverName: serverName, alpn: alpn)
    }

    /// RFC 6066 §3: `ServerName server_name_list<1..2^16-1>`, each `NameType (1) + HostName<1..2^16-1>`.
    private static func parseServerName(_ body: inout ByteCursor) -> String? {
        guard let listLength = body.u16(), listLength >= 3, var list = body.sub(listLength), body.isAtEnd else {
            return nil
        }
        var hostName = ""
        while !list.isAtEnd {
            guard let type = list.u8(), let length = list.u16(), length >= 1, let name = list.bytes(length) else {
                return nil
            }
            if type == 0 && hostName.isEmpty {
                // HostName is ASCII (RFC 6066 §3); anything else is malformed, never a routable name.
                guard name.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                    return nil
                }
                hostName = String(decoding: name, as: UTF8.self)
            }
        }
        return hostName
    }

    /// RFC 7301 §3.1: `ProtocolName protocol_name_list<2..2^16-1>`, each `opaque ProtocolName<1..2^8-1>`.
    private static func parseALPN(_ body: inout ByteCursor) -> [String]? {
        guard let listLength = body.u16(), listLength >= 2, var list = body.sub(listLength), body.isAtEnd else {
            return nil
        }
        var protocols: [String] = []
        while !list.isAtEnd {
            guard let length = list.u8(), length >= 1, let name = list.bytes(Int(length)) else {
                return nil
            }
            protocols.append(String(decoding: name, as: UTF8.self))
        }
        return protocols
    }
}

/// A bounds-checked big-endian reader; every read returns `nil` instead of trapping past the end.
private struct ByteCursor {
    private let storage: [UInt8]
    private var index: Int

    init(_ storage: [UInt8]) {
        self.storage = storage
        self.index = 0
    }

    var isAtEnd: Bool {
        self.index == self.storage.count
    }

    mutating func u8() -> UInt8? {
        guard self.index < self.storage.count else {
            return nil
        }
        defer { self.index += 1 }
        return self.storage[self.index]
    }

    mutating func u16() -> Int? {
        guard let high = self.u8(), let low = self.u8() else {
            return nil
        }
        return Int(high) << 8 | Int(low)
    }

    mutating func skip(_ count: Int) -> Bool {
        self.bytes(count) != nil
    }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, self.storage.count - self.index >= count else {
            return nil
        }
        defer { self.index += count }
        return self.storage[self.index..<self.index + count]
    }

    mutating func sub(_ count: Int) -> ByteCursor? {
        self.bytes(count).map { ByteCursor(Array($0)) }
    }
}
