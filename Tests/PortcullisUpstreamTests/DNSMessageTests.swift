import PortcullisUpstream
import Testing

/// DNS wire format: queries out, responses in (RFC 1035 §4), with responses treated as hostile input.
@Suite struct DNSMessageTests {
    /// Header: id 0x1234, QR RD RA + `flags`, counts.
    static func header(flags: UInt16 = 0x8180, qd: UInt16 = 1, an: UInt16, ns: UInt16 = 0) -> [UInt8] {
        [0x12, 0x34, UInt8(flags >> 8), UInt8(flags & 0xFF), 0, UInt8(qd), 0, UInt8(an), 0, UInt8(ns), 0, 0]
    }

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// `www.example.com A IN` at offset 12.
    static let question = Self.name("www.example.com") + [0, 1, 0, 1]

    static func record(_ owner: [UInt8], type: UInt8, ttl: UInt32, _ data: [UInt8]) -> [UInt8] {
        owner + [0, type, 0, 1] + [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
            + [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    static let asked = DNSQuestion(name: "www.example.com", type: DNSRecordType.a)

    @Test func queryIsEncodedWithRecursionDesiredAndEDNS() throws {
        let bytes = try DNSMessage.query(id: 0xBEEF, name: "API.Example.com.", type: DNSRecordType.aaaa)
        #expect(Array(bytes[0..<12]) == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        #expect(Array(bytes[12..<(12 + 17)]) == Self.name("API.Example.com"))
        #expect(Array(bytes[29..<33]) == [0, 28, 0, 1])
        #expect(Array(bytes[33...]) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
        #expect(throws: DNSMessageError.self) {
            _ = try DNSMessage.query(id: 1, name: "a..b", type: 1)
        }
        #expect(throws: DNSMessageError.self) {
            _ = try DNSMessage.query(id: 1, name: String(repeating: "x", count: 64) + ".com", type: 1)
        }
        #expect(throws: DNSMessageError.self) {
            _ = try DNSMessage.query(id: 1, name: Array(repeating: String(repeating: "x", count: 60), count: 5)
                .joined(separator: "."), type: 1)
        }
    }

    @Test func compressedAnswerDecodes() throws {
        // Answer owner is a pointer to the question's name (offset 12), the usual server layout.
        let bytes = Self.header(an: 2) + Self.question
            + Self.record([0xC0, 12], type: 1, ttl: 300, [192, 0, 2, 1])
            + Self.record([0xC0, 12], type: 1, ttl: 60, [192, 0, 2, 2])
        let message = try DNSMessage(decoding: bytes)
        #expect(message.matches(id: 0x1234, question: Self.asked))
        #expect(!message.matches(id: 0x1235, question: Self.asked))
        #expect(!message.matches(id: 0x1234, question: DNSQuestion(name: "www.example.com", type: 28)))
        #expect(message.answer(for: Self.asked) == .addresses([[192, 0, 2, 1], [192, 0, 2, 2]], ttl: 60))
    }

    @Test func namesCompareCaseInsensitively() throws {
        let bytes = Self.header(an: 1) + Self.name("WWW.Example.COM") + [0, 1, 0, 1]
            + Self.record([0xC0, 12], type: 1, ttl: 5, [10, 0, 0, 1])
        let message = try DNSMessage(decoding: bytes)
        #expect(message.question?.name == "www.example.com")
        #expect(message.answer(for: Self.asked) == .addresses([[10, 0, 0, 1]], ttl: 5))
    }

    @Test func cnameChainIsFollowedWithTheSmallestTTL() throws {
        // www.example.com CNAME edge.cdn.net (ttl 30); edge.cdn.net CNAME a.cdn.net (ttl 600, a pointer to
        // "cdn.net" inside the first CNAME's data); a.cdn.net A (ttl 120).
        var bytes = Self.header(an: 3) + Self.question
        let firstTargetAt = bytes.count + 2 + 10
        bytes += Self.record([0xC0, 12], type: 5, ttl: 30, Self.name("edge.cdn.net"))
        let cdnAt = UInt8(firstTargetAt + 5)  // after "\u{4}edge"
        bytes += Self.record([0xC0, UInt8(firstTargetAt)], type: 5, ttl: 600, [1, UInt8(ascii: "a"), 0xC0, cdnAt])
        bytes += Self.record([1, UInt8(ascii: "a"), 0xC0, cdnAt], type: 1, ttl: 120, [203, 0, 113, 7])
        let message = try DNSMessage(decoding: bytes)
        #expect(message.answer(for: Self.asked) == .addresses([[203, 0, 113, 7]], ttl: 30))
    }

    @Test func recordsOffTheChainAreIgnored() throws {
        // An A record for another name (cache poisoning attempt) does not answer the question.
        let bytes = Self.header(an: 1) + Self.question
            + Self.record(Self.name("evil.example"), type: 1, ttl: 300, [127, 0, 0, 1])
        let message = try DNSMessage(decoding: bytes)
        #expect(message.answer(for: Self.asked) == .negative(nameError: false, ttl: nil))
    }

    @Test func cnameLoopEndsAsNoData() throws {
        let bytes = Self.header(an: 2) + Self.question
            + Self.record([0xC0, 12], type: 5, ttl: 30, Self.name("b.example"))
            + Self.record(Self.name("b.example"), type: 5, ttl: 30, [0xC0, 12])
        let message = try DNSMessage(decoding: bytes)
        #expect(message.answer(for: Self.asked) == .negative(nameError: false, ttl: nil))
    }

    @Test func negativeAnswerUsesTheSOAMinimum() throws {
        let soa = Self.name("ns.example.com") + Self.name("root.example.com") + [0, 0, 0, 1] + [0, 0, 0x0E, 0x10]
            + [0, 0, 2, 0x58] + [0, 1, 0x51, 0x80] + [0, 0, 0, 45]
        let bytes = Self.header(flags: 0x8183, an: 0, ns: 1) + Self.question
            + Self.record(Self.name("example.com"), type: 6, ttl: 900, soa)
        let message = try DNSMessage(decoding: bytes)
        #expect(message.responseCode == DNSResponseCode.nameError)
        #expect(message.answer(for: Self.asked) == .negative(nameError: true, ttl: 45))
    }

    @Test func truncatedAnswerKeepsTheTCFlagEvenWhenCutMidRecord() throws {
        let full = Self.header(flags: 0x8380, an: 2) + Self.question
            + Self.record([0xC0, 12], type: 1, ttl: 300, [192, 0, 2, 1])
            + Self.record([0xC0, 12], type: 1, ttl: 300, [192, 0, 2, 2])
        let message = try DNSMessage(decoding: Array(full.dropLast(3)))
        #expect(message.isTruncated)
        #expect(message.answers.count == 1)
        // Without TC, the same cut is an error.
        var untruncated = full
        untruncated[2] = 0x81
        #expect(throws: DNSMessageError.self) { _ = try DNSMessage(decoding: Array(untruncated.dropLast(3))) }
    }

    /// A one-answer message after the standard question, the answer's owner being `owner`.
    static func withAnswer(_ owner: [UInt8], type: UInt8, _ data: [UInt8]) -> [UInt8] {
        Self.header(an: 1) + Self.question + Self.record(owner, type: type, ttl: 1, data)
    }

    @Test(arguments: [
        ("pointer to itself", Self.withAnswer([0xC0, 33], type: 1, [1, 2, 3, 4])),
        ("forward pointer", Self.withAnswer([0xC0, 60], type: 1, [1, 2, 3, 4])),
        ("pointer loop", Self.header(qd: 1, an: 0) + [0xC0, 14, 0xC0, 12, 0, 1, 0, 1]),
        ("truncated pointer", Self.header(an: 1) + Self.question + [0xC0]),
        ("label past the end", Self.header(an: 0) + [40] + Array("www".utf8)),
        ("reserved label type", Self.header(an: 0) + [0x40, 0, 0, 1, 0, 1]),
        ("A record of 5 bytes", Self.withAnswer([0xC0, 12], type: 1, [1, 2, 3, 4, 5])),
        ("AAAA record of 4 bytes", Self.withAnswer([0xC0, 12], type: 28, [1, 2, 3, 4])),
        ("CNAME shorter than its name", Self.withAnswer([0xC0, 12], type: 5, [3, 0x61, 0x62])),
        ("rdlength past the end",
         Self.header(an: 1) + Self.question + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1]),
        ("two questions", Self.header(qd: 2, an: 0) + Self.question + Self.question),
        ("short header", [0x12, 0x34, 0x81]),
        ("empty", []),
    ] as [(String, [UInt8])])
    func malformedResponsesAreRejected(_ label: String, _ bytes: [UInt8]) {
        #expect(throws: DNSMessageError.self, "\(label)") { _ = try DNSMessage(decoding: bytes) }
    }

    static func pointer(_ offset: Int) -> [UInt8] { [0xC0 | UInt8(offset >> 8), UInt8(offset & 0xFF)] }

    @Test func nameLongerThan255BytesIsRejected() {
        // Pointers can build a long name out of a short message; the 255-byte limit still holds.
        var bytes = Self.header(qd: 0, an: 1)
        bytes += [63] + Array(repeating: UInt8(ascii: "x"), count: 63) + [0]
        var previous = 12
        for _ in 0..<4 {
            let here = bytes.count
            bytes += [63] + Array(repeating: UInt8(ascii: "y"), count: 63) + Self.pointer(previous)
            previous = here
        }
        bytes += Self.pointer(previous) + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSMessageError.self) { _ = try DNSMessage(decoding: bytes) }
    }

    @Test func oddBytesInLabelsCannotForgeADot() throws {
        // One label "a.b" must not compare equal to the two labels "a" "b".
        let bytes = Self.header(an: 0) + [3, UInt8(ascii: "a"), UInt8(ascii: "."), UInt8(ascii: "b"), 0, 0, 1, 0, 1]
        let message = try DNSMessage(decoding: bytes)
        #expect(message.question?.name == "a\\046b")
    }

    @Test func ttlWithTheTopBitSetCountsAsZero() throws {
        let bytes = Self.header(an: 1) + Self.question + Self.record([0xC0, 12], type: 1, ttl: 0x8000_0001, [1, 2, 3, 4])
        #expect(try DNSMessage(decoding: bytes).answer(for: Self.asked) == .addresses([[1, 2, 3, 4]], ttl: 0))
    }

    @Test func mutatedMessagesNeverCrash() {
        // Every single-byte change and every truncation of a valid answer either decodes or throws.
        let valid = Self.header(an: 2) + Self.question
            + Self.record([0xC0, 12], type: 5, ttl: 30, Self.name("edge.cdn.net"))
            + Self.record(Self.name("edge.cdn.net"), type: 1, ttl: 120, [203, 0, 113, 7])
        var decoded = 0
        for index in valid.indices {
            for value: UInt8 in [0x00, 0x3F, 0x40, 0xC0, 0xFF, valid[index] &+ 1] {
                var bytes = valid
                bytes[index] = value
                if let message = try? DNSMessage(decoding: bytes) {
                    _ = message.answer(for: Self.asked)
                    decoded += 1
                }
            }
            _ = try? DNSMessage(decoding: Array(valid[..<index]))
        }
        #expect(decoded > 0)
    }
}
