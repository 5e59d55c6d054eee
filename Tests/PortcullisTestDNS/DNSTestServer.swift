import NIOCore
import NIOPosix
import Synchronization

/// A scripted authoritative DNS server for tests: UDP and TCP on the same 127.0.0.1 port (port 0 at start).
///
/// Answers are set per name; a query for a name with no script gets NXDOMAIN with an SOA. It writes its answers
/// with name compression (the question's name by pointer, repeated suffixes by pointer), independently of the
/// resolver's own code, so each side checks the other.
public final class DNSTestServer: Sendable {
    public struct Record: Sendable {
        public enum Data: Sendable {
            case a(String)
            case aaaa(String)
            case cname(String)
        }

        public let name: String
        public let ttl: UInt32
        public let data: Data

        public init(_ name: String, ttl: UInt32, _ data: Data) {
            self.name = name
            self.ttl = ttl
            self.data = data
        }

        var type: UInt16 {
            switch self.data {
            case .a: 1
            case .aaaa: 28
            case .cname: 5
            }
        }
    }

    /// How to answer one name.
    public struct Script: Sendable {
        public var records: [Record]
        public var rcode: UInt8 = 0
        /// UDP answers carry TC and no records; only TCP gets the records.
        public var truncateUDP = false
        /// Never answer (the client times out).
        public var silent = false
        /// Before the real answer, send one with another id (the client must ignore it).
        public var wrongIDFirst = false
        /// SOA `MINIMUM` (and TTL) in the authority section of negative answers.
        public var negativeTTL: UInt32 = 60

        public init(records: [Record] = [], rcode: UInt8 = 0) {
            self.records = records
            self.rcode = rcode
        }
    }

    private struct State {
        var scripts: [String: Script] = [:]
        var defaultScript: Script?
        var udpQueries: [String] = []
        var tcpQueries: [String] = []
    }

    private let state = Mutex(State())
    private let channels = Mutex<[Channel]>([])
    public let port: Int

    private init(port: Int) {
        self.port = port
    }

    /// Binds UDP on 127.0.0.1:0, then TCP on the same port (retrying with another port if that one is taken).
    public static func start(group: any EventLoopGroup) async throws -> DNSTestServer {
        var lastError: Error?
        for _ in 0..<20 {
            let holder = Holder()
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPHandler(holder: holder))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            guard let port = udp.localAddress?.port else { throw TestDNSError("no port") }
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(TCPHandler(holder: holder))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                let server = DNSTestServer(port: port)
                holder.server.withLock { $0 = server }
                server.channels.withLock { $0 = [udp, tcp] }
                return server
            } catch {
                lastError = error
                try? await udp.close()
            }
        }
        throw lastError ?? TestDNSError("cannot bind")
    }

    /// `127.0.0.1:PORT`, for `--dns-server`.
    public var address: String { "127.0.0.1:\(self.port)" }

    public func set(_ name: String, _ script: Script) {
        self.state.withLock { $0.scripts[name.lowercased()] = script }
    }

    /// The script for names without their own (nil: NXDOMAIN).
    public func setDefault(_ script: Script?) {
        self.state.withLock { $0.defaultScript = script }
    }

    /// Names asked over UDP / TCP so far, as `name/TYPE` (`api.example/1`).
    public var udpQueries: [String] { self.state.withLock { $0.udpQueries } }
    public var tcpQueries: [String] { self.state.withLock { $0.tcpQueries } }

    public func stop() async {
        for channel in self.channels.withLock({ $0 }) { try? await channel.close() }
    }

    /// The datagrams (or TCP message) to send back for `query`; empty when silent or unparsable.
    func respond(to query: [UInt8], overTCP: Bool) -> [[UInt8]] {
        guard let parsed = ParsedQuery(query) else { return [] }
        let script: Script? = self.state.withLock { state in
            if overTCP {
                state.tcpQueries.append("\(parsed.name)/\(parsed.type)")
            } else {
                state.udpQueries.append("\(parsed.name)/\(parsed.type)")
            }
            return state.scripts[parsed.name] ?? state.defaultScript
        }
        guard let script else {
            return [ResponseWriter.write(query: parsed, rcode: 3, truncated: false, records: [], soaTTL: 60)]
        }
        if script.silent { return [] }
        let truncate = script.truncateUDP && !overTCP
        let records = truncate ? [] : script.records.filter { $0.type == parsed.type || $0.type == 5 }
        let answer = ResponseWriter.write(
            query: parsed, rcode: script.rcode, truncated: truncate, records: records, soaTTL: script.negativeTTL)
        if script.wrongIDFirst && !overTCP {
            var spoof = answer
            spoof[0] ^= 0xFF
            return [spoof, answer]
        }
        return [answer]
    }
}

public struct TestDNSError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The server, once bound; handlers are created before it exists.
final class Holder: Sendable {
    let server = Mutex<DNSTestServer?>(nil)
    func respond(to query: [UInt8], overTCP: Bool) -> [[UInt8]] {
        self.server.withLock { $0 }?.respond(to: query, overTCP: overTCP) ?? []
    }
}

final class UDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let holder: Holder

    init(holder: Holder) { self.holder = holder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        for reply in self.holder.respond(to: Array(envelope.data.readableBytesView), overTCP: false) {
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))
            context.write(Self.wrapOutboundOut(out), promise: nil)
        }
        context.flush()
    }
}

final class TCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let holder: Holder
    var buffer = ByteBuffer()

    init(holder: Holder) { self.holder = holder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = Self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&chunk)
        while let length = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt16.self),
            let query = self.buffer.getBytes(at: self.buffer.readerIndex + 2, length: Int(length))
        {
            self.buffer.moveReaderIndex(forwardBy: 2 + Int(length))
            for reply in self.holder.respond(to: query, overTCP: true) {
                var out = context.channel.allocator.buffer(capacity: reply.count + 2)
                out.writeInteger(UInt16(reply.count))
                out.writeBytes(reply)
                context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
            }
        }
    }
}

/// The parts of a query the server needs: id, the question's name (lower-cased) and type, and its raw bytes.
struct ParsedQuery {
    let id: UInt16
    let name: String
    let type: UInt16
    let questionBytes: [UInt8]

    init?(_ bytes: [UInt8]) {
        guard bytes.count > 12 else { return nil }
        self.id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        var offset = 12
        var labels: [String] = []
        while offset < bytes.count, bytes[offset] != 0 {
            let length = Int(bytes[offset])
            guard length < 64, offset + 1 + length <= bytes.count else { return nil }
            labels.append(String(decoding: bytes[(offset + 1)...(offset + length)], as: UTF8.self).lowercased())
            offset += 1 + length
        }
        guard offset + 5 <= bytes.count else { return nil }
        self.name = labels.joined(separator: ".")
        self.type = UInt16(bytes[offset + 1]) << 8 | UInt16(bytes[offset + 2])
        self.questionBytes = Array(bytes[12..<(offset + 5)])
    }
}
