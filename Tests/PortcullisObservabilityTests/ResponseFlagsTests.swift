import Testing

@testable import PortcullisObservability

/// `%RESPONSE_FLAGS%` rendering, checked against Envoy's short codes and `CoreResponseFlag` order.
struct ResponseFlagsTests {
    @Test func emptyPrintsDash() {
        #expect(ResponseFlags().description == "-")
    }

    @Test func singleFlags() {
        #expect(ResponseFlags.noRouteFound.description == "NR")
        #expect(ResponseFlags.noHealthyUpstream.description == "UH")
        #expect(ResponseFlags.upstreamOverflow.description == "UO")
        #expect(ResponseFlags.upstreamRequestTimeout.description == "UT")
        #expect(ResponseFlags.downstreamProtocolError.description == "DPE")
        #expect(ResponseFlags.upstreamProtocolError.description == "UPE")
        #expect(ResponseFlags.noClusterFound.description == "NC")
        #expect(ResponseFlags.unauthorizedExternalService.description == "UAEX")
        #expect(ResponseFlags.rateLimitServiceError.description == "RLSE")
        #expect(ResponseFlags.unconditionalDropOverload.description == "UDO")
    }

    @Test func combinationsFollowEnvoyOrderNotInsertionOrder() {
        let flags: ResponseFlags = [.upstreamRetryLimitExceeded, .upstreamConnectionFailure]
        #expect(flags.description == "UF,URX")
        let timeoutWithFault: ResponseFlags = [.faultInjected, .delayInjected, .upstreamRequestTimeout]
        #expect(timeoutWithFault.description == "UT,DI,FI")
        let terminations: ResponseFlags = [.downstreamConnectionTermination, .upstreamConnectionTermination]
        #expect(terminations.description == "UC,DC")
    }

    @Test func everyCodeRoundTrips() {
        let all = ResponseFlags(rawValue: (1 << 30) - 1)
        let expected = "LH,UH,UT,LR,UR,UF,UC,UO,NR,DI,FI,RL,UAEX,RLSE,DC,URX,"
            + "SI,IH,DPE,UMSDR,RFCF,NFCF,DT,UPE,NC,OM,DF,DO,DR,UDO"
        #expect(all.description == expected)
        #expect(ResponseFlags(shortString: expected) == all)
        #expect(ResponseFlags(shortString: "-") == [])
        #expect(ResponseFlags(shortString: "UF,URX") == [.upstreamConnectionFailure, .upstreamRetryLimitExceeded])
        #expect(ResponseFlags(shortString: "XX") == nil)
    }

    @Test func unknownBitsAreIgnored() {
        #expect(ResponseFlags(rawValue: 1 << 31).description == "-")
        #expect(ResponseFlags(rawValue: 1 << 31 | 1 << 8).description == "NR")
    }
}
