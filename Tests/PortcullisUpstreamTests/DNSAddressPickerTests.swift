import NIOCore
import PortcullisUpstream
import Testing

/// Which address of a DNS answer a new connection takes (ISTIO-SEMANTICS §4.1 `DNS` vs `DNS_ROUND_ROBIN`).
@Suite struct DNSAddressPickerTests {
    static let answer = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map { try! SocketAddress(ipAddress: $0, port: 80) }

    @Test func dnsRotatesThroughEveryAddress() {
        var picker = DNSAddressPicker()
        let picks = (0..<6).compactMap { _ in picker.pick(Self.answer, endpoint: 0, resolution: .dns)?.ipAddress }
        #expect(picks == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3"])
        // Cursors are per endpoint; a shrunken answer never indexes out of range.
        #expect(picker.pick(Self.answer, endpoint: 1, resolution: .dns)?.ipAddress == "10.0.0.1")
        _ = picker.pick(Self.answer, endpoint: 0, resolution: .dns)
        _ = picker.pick(Self.answer, endpoint: 0, resolution: .dns)
        let two = Array(Self.answer.prefix(2))
        let after = (0..<3).compactMap { _ in picker.pick(two, endpoint: 0, resolution: .dns)?.ipAddress }
        #expect(after == ["10.0.0.1", "10.0.0.2", "10.0.0.1"])
        #expect(DNSAddressPicker.poolsPerAddress(.dns))
    }

    @Test func dnsRoundRobinTakesTheFirstAddress() {
        var picker = DNSAddressPicker()
        let picks = (0..<4).compactMap {
            _ in picker.pick(Self.answer, endpoint: 0, resolution: .dnsRoundRobin)?.ipAddress
        }
        #expect(picks == Array(repeating: "10.0.0.1", count: 4))
        #expect(picker.pick(Array(Self.answer.reversed()), endpoint: 0, resolution: .dnsRoundRobin)?.ipAddress
            == "10.0.0.3")
        #expect(picker.pick([], endpoint: 0, resolution: .dns) == nil)
        #expect(!DNSAddressPicker.poolsPerAddress(.dnsRoundRobin))
    }
}
