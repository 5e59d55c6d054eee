/// DNS messages on the wire (RFC 1035 §4): the queries the stub resolver sends and the responses it reads.
///
/// Responses are hostile input: every read is bounds-checked, compression pointers must point strictly backwards
/// (so they cannot loop), names are limited to 255 wire bytes and labels to 63, and record data must have the
/// length its type requires. Anything else is a `DNSMessageError`, never a crash.
public enum DNSRecordType {
    public static let a: UInt16 = 1
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let aaaa: UInt16 = 28
    public static let opt: UInt16 = 41
}

/// Response codes the resolver acts on (RFC 1035 §4.1.1).
public enum DNSResponseCode {
    public static let noError: UInt8 = 0
    public static let formatError: UInt8 = 1
    public static let serverFailure: UInt8 = 2
    public static let nameError: UInt8 = 3
    public static let notImplemented: UInt8 = 4
    public static let refused: UInt8 = 5
}

/// A response (or query) that does not parse.
public struct DNSMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "malformed DNS message: \(self.reason)" }
}

/// The question of a message: a lower-cased name without the final dot, its type and class.
public struct DNSQuestion: Sendable, Hashable {
    public let name: String
    public let type: UInt16
    public let klass: UInt16

    public init(name: String, type: UInt16, klass: UInt16 = 1) {
        self.name = name
        self.type = type
        self.klass = klass
    }
}

/// One resource record. Only the data the resolver uses is decoded; other types keep `.other`.
public struct DNSRecord: Sendable, Hashable {
    public enum Data: Sendable, Hashable {
        /// A (4 bytes) or AAAA (16 bytes).
        case address([UInt8])
        /// CNAME target.
        case name(String)
        /// SOA: only the `MINIMUM` field matters (RFC 2308 §4: the negative-caching TTL).
        case soa(minimum: UInt32)
        case other
    }

    public let name: String
    public let type: UInt16
    public let klass: UInt16
    public let ttl: UInt32
    public let data: Data
}

/// A decoded message: header fields, the question, the answer and authority sections (additional is skipped).
public struct DNSMessage: Sendable {
    public let id: UInt16
    public let isResponse: Bool
    public let opcode: UInt8
    public let isTruncated: Bool
    public let responseCode: UInt8
    public let question: DNSQuestion?
    public let answers: [DNSRecord]
    public let authority: [DNSRecord]

    /// Decodes `bytes`; throws on anything malformed.
    public init(decoding bytes: [UInt8]) throws(DNSMessageError) {
        var reader = DNSReader(bytes)
        self.id = try reader.u16()
        let flags = try reader.u16()
        self.isResponse = flags & 0x8000 != 0
        self.opcode = UInt8((flags >> 11) & 0x0F)
        self.isTruncated = flags & 0x0200 != 0
        self.responseCode = UInt8(flags & 0x000F)
        let questions = Int(try reader.u16())
        let answerCount = Int(try reader.u16())
        let authorityCount = Int(try reader.u16())
        _ = try reader.u16()  // additional records: not needed
        guard questions <= 1 else { throw DNSMessageError("\(questions) questions") }
        if questions == 1 {
            let name = try reader.name()
            self.question = DNSQuestion(name: name, type: try reader.u16(), klass: try reader.u16())
        } else {
            self.question = nil
        }
        // A truncated UDP answer may end mid-record: keep what is complete, the caller retries over TCP.
        var answers: [DNSRecord] = []
        var authority: [DNSRecord] = []
        do {
            for _ in 0..<answerCount { answers.append(try reader.record()) }
            for _ in 0..<authorityCount { authority.append(try reader.record()) }
        } catch {
            guard self.isTruncated else { throw error }
        }
        self.answers = answers
        self.authority = authority
    }
}

extension DNSMessage {
    /// A recursive query (RD set) for `name` and `type`, with an EDNS(0) OPT record offering 1232-byte UDP
    /// answers (RFC 6891; 1232 is the DNS Flag Day 2020 size that avoids IP fragmentation).
    public static func query(id: UInt16, name: String, type: UInt16) throws(DNSMessageError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + name.utf8.count)
        Self.put16(id, into: &out)
        Self.put16(0x0100, into: &out)  // RD
        Self.put16(1, into: &out)  // QDCOUNT
        Self.put16(0, into: &out)
        Self.put16(0, into: &out)
        Self.put16(1, into: &out)  // ARCOUNT: the OPT record
        try Self.putName(name, into: &out)
        Self.put16(type, into: &out)
        Self.put16(1, into: &out)  // IN
        out.append(0)  // OPT: root name
        Self.put16(DNSRecordType.opt, into: &out)
        Self.put16(1232, into: &out)  // requestor's UDP payload size
        out.append(contentsOf: [0, 0, 0, 0, 0, 0])  // extended RCODE, version, flags, RDLENGTH
        return out
    }

    /// Appends `name` as uncompressed labels. Rejects empty labels, labels over 63 bytes and names over 255.
    static func putName(_ name: String, into out: inout [UInt8]) throws(DNSMessageError) {
        let trimmed = name.hasSuffix(".") ? Substring(name.dropLast()) : Substring(name)
        var length = 1
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= 63 else { throw DNSMessageError("bad label in \(name)") }
                length += bytes.count + 1
                guard length <= 255 else { throw DNSMessageError("name too long") }
                out.append(UInt8(bytes.count))
                out.append(contentsOf: bytes)
            }
        }
        out.append(0)
    }

    static func put16(_ value: UInt16, into out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }
}

/// A bounds-checked cursor over a message.
struct DNSReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSMessageError) -> UInt8 {
        guard self.offset < self.bytes.count else { throw DNSMessageError("truncated") }
        defer { self.offset += 1 }
        return self.bytes[self.offset]
    }

    mutating func u16() throws(DNSMessageError) -> UInt16 {
        UInt16(try self.u8()) << 8 | UInt16(try self.u8())
    }

    mutating func u32() throws(DNSMessageError) -> UInt32 {
        UInt32(try self.u16()) << 16 | UInt32(try self.u16())
    }

    mutating func take(_ count: Int) throws(DNSMessageError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= self.bytes.count - self.offset else { throw DNSMessageError("truncated") }
        defer { self.offset += count }
        return self.bytes[self.offset..<self.offset + count]
    }

    /// A possibly compressed name (RFC 1035 §4.1.4), lower-cased, without the final dot ("" is the root).
    ///
    /// Every pointer must point before the pointer itself, so a chain of pointers always moves backwards and
    /// ends. Bytes other than letters, digits, `-` and `_` are written as `\DDD` so a label holding a dot can
    /// never pass for two labels.
    mutating func name() throws(DNSMessageError) -> String {
        var labels: [String] = []
        var wireLength = 1
        var cursor = self.offset
        var resumeAt: Int?
        while true {
            guard cursor < self.bytes.count else { throw DNSMessageError("truncated name") }
            let length = self.bytes[cursor]
            switch length & 0xC0 {
            case 0xC0:
                guard cursor + 1 < self.bytes.count else { throw DNSMessageError("truncated pointer") }
                let target = Int(length & 0x3F) << 8 | Int(self.bytes[cursor + 1])
                guard target < cursor else { throw DNSMessageError("compression pointer does not point back") }
                if resumeAt == nil { resumeAt = cursor + 2 }
                cursor = target
            case 0x00:
                if length == 0 {
                    self.offset = resumeAt ?? cursor + 1
                    return labels.joined(separator: ".")
                }
                let count = Int(length)
                guard cursor + 1 + count <= self.bytes.count else { throw DNSMessageError("truncated label") }
                wireLength += count + 1
                guard wireLength <= 255 else { throw DNSMessageError("name longer than 255 bytes") }
                labels.append(Self.labelText(self.bytes[(cursor + 1)...(cursor + count)]))
                cursor += 1 + count
            default:
                throw DNSMessageError("unsupported label type")
            }
        }
    }

    /// One resource record; A/AAAA must hold 4/16 bytes and a CNAME's name must fill its data exactly.
    mutating func record() throws(DNSMessageError) -> DNSRecord {
        let name = try self.name()
        let type = try self.u16()
        let klass = try self.u16()
        let ttl = try self.u32()
        let length = Int(try self.u16())
        let start = self.offset
        let rdata = try self.take(length)
        let data: DNSRecord.Data
        switch type {
        case DNSRecordType.a, DNSRecordType.aaaa:
            let expected = type == DNSRecordType.a ? 4 : 16
            guard length == expected else { throw DNSMessageError("address record of \(length) bytes") }
            data = .address(Array(rdata))
        case DNSRecordType.cname:
            var inner = self
            inner.offset = start
            let target = try inner.name()
            guard inner.offset == start + length else { throw DNSMessageError("CNAME data length mismatch") }
            data = .name(target)
        case DNSRecordType.soa:
            var inner = self
            inner.offset = start
            _ = try inner.name()
            _ = try inner.name()
            _ = try inner.take(16)  // serial, refresh, retry, expire
            let minimum = try inner.u32()
            guard inner.offset == start + length else { throw DNSMessageError("SOA data length mismatch") }
            data = .soa(minimum: minimum)
        default:
            data = .other
        }
        // RFC 2181 §8: a TTL with the top bit set is treated as zero.
        return DNSRecord(name: name, type: type, klass: klass, ttl: ttl & 0x8000_0000 != 0 ? 0 : ttl, data: data)
    }

    private static func labelText(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case 0x41...0x5A: text.unicodeScalars.append(Unicode.Scalar(byte + 0x20))
            case 0x61...0x7A, 0x30...0x39, 0x2D, 0x5F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = String(byte)
                text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }
        }
        return text
    }
}
