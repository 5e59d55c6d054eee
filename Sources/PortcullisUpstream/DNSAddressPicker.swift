import NIOCore
import PortcullisModel

/// Chooses, from a DNS answer, the address of one new upstream connection (ISTIO-SEMANTICS §4.1).
///
/// - `DNS` (Envoy `STRICT_DNS`): every returned address is an endpoint of its own, so new connections rotate
///   through the whole answer and each address gets its share of the load (and, in the caller, its own pool).
/// - `DNS_ROUND_ROBIN` (Envoy `LOGICAL_DNS`): a new connection takes the **first** address of the current answer;
///   existing connections are kept. The "round robin" comes from DNS servers that rotate their answers, and from
///   the answer changing when its TTL runs out.
/// - Anything else (STATIC names, `DYNAMIC_DNS`) takes the first address too.
///
/// One picker per event loop and cluster (no locks); cursors are per endpoint index.
public struct DNSAddressPicker {
    private var cursors: [Int: Int] = [:]

    public init() {}

    public mutating func pick(
        _ addresses: [SocketAddress], endpoint: Int, resolution: ServiceEntry.Resolution
    ) -> SocketAddress? {
        guard let first = addresses.first else { return nil }
        guard resolution == .dns, addresses.count > 1 else { return first }
        let cursor = self.cursors[endpoint, default: 0] % addresses.count
        self.cursors[endpoint] = (cursor + 1) % addresses.count
        return addresses[cursor]
    }

    /// Whether connections to `resolution` endpoints are pooled per resolved address (each address is an endpoint
    /// of its own) rather than per endpoint name (one logical host whose existing connections are kept).
    public static func poolsPerAddress(_ resolution: ServiceEntry.Resolution) -> Bool {
        resolution == .dns
    }
}
