/// Envoy response flags: why a request ended the way it did, for access logs and the `response_flags` metric label.
///
/// The short codes and their order follow Envoy's `CoreResponseFlag` enum (envoy/stream_info/stream_info.h) and
/// the `%RESPONSE_FLAGS%` command operator documented at
/// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage. Envoy prints the set
/// flags comma-separated (`UF,URX`) and `-` when none is set. Each flag's bit is its position in that enum, so
/// iterating bits in ascending order yields Envoy's order.
public struct ResponseFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// `LH`: the local health check failed.
    public static let failedLocalHealthCheck = ResponseFlags(rawValue: 1 << 0)
    /// `UH`: the cluster had no healthy upstream host (503 `no healthy upstream`).
    public static let noHealthyUpstream = ResponseFlags(rawValue: 1 << 1)
    /// `UT`: the route timeout expired (504 `upstream request timeout`).
    public static let upstreamRequestTimeout = ResponseFlags(rawValue: 1 << 2)
    /// `LR`: the gateway reset the stream locally.
    public static let localReset = ResponseFlags(rawValue: 1 << 3)
    /// `UR`: the upstream reset the stream.
    public static let upstreamRemoteReset = ResponseFlags(rawValue: 1 << 4)
    /// `UF`: connecting to the upstream failed.
    public static let upstreamConnectionFailure = ResponseFlags(rawValue: 1 << 5)
    /// `UC`: the upstream connection terminated mid-request.
    public static let upstreamConnectionTermination = ResponseFlags(rawValue: 1 << 6)
    /// `UO`: a circuit breaker overflowed (503 with `x-envoy-overloaded`).
    public static let upstreamOverflow = ResponseFlags(rawValue: 1 << 7)
    /// `NR`: no virtual host or route matched (404).
    public static let noRouteFound = ResponseFlags(rawValue: 1 << 8)
    /// `DI`: a fault filter delay was injected.
    public static let delayInjected = ResponseFlags(rawValue: 1 << 9)
    /// `FI`: a fault filter abort was injected.
    public static let faultInjected = ResponseFlags(rawValue: 1 << 10)
    /// `RL`: the request was rate limited locally.
    public static let rateLimited = ResponseFlags(rawValue: 1 << 11)
    /// `UAEX`: the external authorization service denied the request.
    public static let unauthorizedExternalService = ResponseFlags(rawValue: 1 << 12)
    /// `RLSE`: the rate limit service could not be called.
    public static let rateLimitServiceError = ResponseFlags(rawValue: 1 << 13)
    /// `DC`: the downstream connection terminated before the response completed.
    public static let downstreamConnectionTermination = ResponseFlags(rawValue: 1 << 14)
    /// `URX`: retries or connect attempts were exhausted.
    public static let upstreamRetryLimitExceeded = ResponseFlags(rawValue: 1 << 15)
    /// `SI`: the stream idle timeout fired.
    public static let streamIdleTimeout = ResponseFlags(rawValue: 1 << 16)
    /// `IH`: `x-envoy-*` request headers failed strict validation.
    public static let invalidEnvoyRequestHeaders = ResponseFlags(rawValue: 1 << 17)
    /// `DPE`: the downstream request broke the HTTP protocol (framing, header syntax).
    public static let downstreamProtocolError = ResponseFlags(rawValue: 1 << 18)
    /// `UMSDR`: the upstream request reached its max stream duration.
    public static let upstreamMaxStreamDurationReached = ResponseFlags(rawValue: 1 << 19)
    /// `RFCF`: the response was served from a cache.
    public static let responseFromCacheFilter = ResponseFlags(rawValue: 1 << 20)
    /// `NFCF`: a filter config was not received in time.
    public static let noFilterConfigFound = ResponseFlags(rawValue: 1 << 21)
    /// `DT`: the request or connection exceeded its max duration.
    public static let durationTimeout = ResponseFlags(rawValue: 1 << 22)
    /// `UPE`: the upstream response broke the HTTP protocol.
    public static let upstreamProtocolError = ResponseFlags(rawValue: 1 << 23)
    /// `NC`: the route's destination has no cluster (503).
    public static let noClusterFound = ResponseFlags(rawValue: 1 << 24)
    /// `OM`: the overload manager shed the stream.
    public static let overloadManager = ResponseFlags(rawValue: 1 << 25)
    /// `DF`: DNS resolution of the upstream failed.
    public static let dnsResolutionFailed = ResponseFlags(rawValue: 1 << 26)
    /// `DO`: the request was dropped by drop-overload.
    public static let dropOverload = ResponseFlags(rawValue: 1 << 27)
    /// `DR`: the downstream reset the stream.
    public static let downstreamRemoteReset = ResponseFlags(rawValue: 1 << 28)
    /// `UDO`: all traffic is dropped (drop-overload at 100%).
    public static let unconditionalDropOverload = ResponseFlags(rawValue: 1 << 29)

    /// Short codes indexed by bit position, in Envoy's `CoreResponseFlag` order.
    static let shortCodes: [String] = [
        "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX",
        "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR", "UDO",
    ]

    /// Envoy's `%RESPONSE_FLAGS%` rendering: `-` when empty, else the short codes joined by `,`.
    ///
    /// Bits beyond the known flags are ignored, so a corrupt value can never print garbage.
    public var description: String {
        if self.rawValue == 0 {
            return "-"
        }
        var result = ""
        var bits = self.rawValue
        while bits != 0 {
            let index = bits.trailingZeroBitCount
            bits &= bits - 1
            guard index < Self.shortCodes.count else {
                break
            }
            if !result.isEmpty {
                result.append(",")
            }
            result.append(Self.shortCodes[index])
        }
        return result.isEmpty ? "-" : result
    }

    /// Parses a `%RESPONSE_FLAGS%` string (`UF,URX` or `-`); nil if any code is unknown.
    public init?(shortString: String) {
        self.init()
        if shortString == "-" {
            return
        }
        for code in shortString.split(separator: ",", omittingEmptySubsequences: false) {
            guard let index = Self.shortCodes.firstIndex(where: { $0 == code }) else {
                return nil
            }
            self.insert(ResponseFlags(rawValue: 1 << UInt32(index)))
        }
    }
}
