import NIOCore

/// Writes a response with name compression (RFC 1035 §4.1.4) for `DNSTestServer`.
enum ResponseWriter {
    static func write(
        query: ParsedQuery, rcode: UInt8, truncated: Bool, records: [DNSTestServer.Record], soaTTL: UInt32
    ) -> [UInt8] {
        var writer = Writer()
        writer.u16(query.id)
        writer.u16(0x8180 | (truncated ? 0x0200 : 0) | UInt16(rcode & 0x0F))  // QR, RD, RA
        writer.u16(1)
        writer.u16(UInt16(records.count))
        let withSOA = records.isEmpty && !truncated
        writer.u16(withSOA ? 1 : 0)
        writer.u16(0)
        writer.bytes.append(contentsOf: query.questionBytes)
        writer.remember(query.name, at: 12)
        for record in records {
            writer.name(record.name)
            writer.u16(record.type)
            writer.u16(1)
            writer.u32(record.ttl)
            let lengthAt = writer.bytes.count
            writer.u16(0)
            switch record.data {
            case .a(let text):
                writer.bytes.append(contentsOf: text.split(separator: ".").map { UInt8($0)! })
            case .aaaa(let text):
                writer.bytes.append(contentsOf: Self.ipv6(text))
            case .cname(let target):
                writer.name(target)
            }
            let length = writer.bytes.count - lengthAt - 2
            writer.bytes[lengthAt] = UInt8(length >> 8)
            writer.bytes[lengthAt + 1] = UInt8(length & 0xFF)
        }
        if withSOA {
            let zone = query.name.split(separator: ".").suffix(2).joined(separator: ".")
            writer.name(zone)
            writer.u16(6)
            writer.u16(1)
            writer.u32(soaTTL)
            let lengthAt = writer.bytes.count
            writer.u16(0)
            writer.name("ns.\(zone)")
            writer.name("hostmaster.\(zone)")
            for value: UInt32 in [1, 3600, 600, 86400, soaTTL] { writer.u32(value) }
            let length = writer.bytes.count - lengthAt - 2
            writer.bytes[lengthAt] = UInt8(length >> 8)
            writer.bytes[lengthAt + 1] = UInt8(length & 0xFF)
        }
        return writer.bytes
    }

    /// `2001:db8::1` → 16 bytes (enough of RFC 4291 §2.2 for tests: one `::` at most).
    static func ipv6(_ text: String) -> [UInt8] {
        let gap = text.firstRange(of: "::")
        let headText = gap.map { text[..<$0.lowerBound] } ?? text[...]
        let tailText = gap.map { text[$0.upperBound...] } ?? ""
        let head = headText.split(separator: ":").map { UInt16($0, radix: 16)! }
        let tail = tailText.split(separator: ":").map { UInt16($0, radix: 16)! }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    struct Writer {
        var bytes: [UInt8] = []
        var offsets: [String: Int] = [:]

        mutating func u16(_ value: UInt16) {
            self.bytes.append(UInt8(value >> 8))
            self.bytes.append(UInt8(value & 0xFF))
        }

        mutating func u32(_ value: UInt32) {
            self.u16(UInt16(value >> 16))
            self.u16(UInt16(value & 0xFFFF))
        }

        /// Records where `name` and each of its suffixes start, for later pointers.
        mutating func remember(_ name: String, at offset: Int) {
            var position = offset
            let labels = name.split(separator: ".")
            for index in labels.indices {
                let suffix = labels[index...].joined(separator: ".")
                if self.offsets[suffix] == nil { self.offsets[suffix] = position }
                position += 1 + labels[index].utf8.count
            }
        }

        /// Writes `name`, ending in a pointer at the longest suffix already written.
        mutating func name(_ name: String) {
            let labels = name.lowercased().split(separator: ".")
            for index in labels.indices {
                let suffix = labels[index...].joined(separator: ".")
                if let offset = self.offsets[suffix] {
                    self.u16(0xC000 | UInt16(offset))
                    return
                }
                if self.bytes.count < 0x3FFF { self.offsets[suffix] = self.bytes.count }
                self.bytes.append(UInt8(labels[index].utf8.count))
                self.bytes.append(contentsOf: Array(labels[index].utf8))
            }
            self.bytes.append(0)
        }
    }
}
