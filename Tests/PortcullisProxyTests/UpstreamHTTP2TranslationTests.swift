import NIOCore
import PortcullisHTTP2
import Testing

@testable import PortcullisProxy

/// HTTP/1-shaped requests to HTTP/2 fields and HTTP/2 responses back (RFC 9113 §8.2–8.3), and the gRPC helpers.
struct UpstreamHTTP2TranslationTests {
    private static func request(headers: [(String, String)], acceptsTrailers: Bool = false) -> UpstreamRequest {
        UpstreamRequest(
            method: "POST", path: "/pkg.Svc/Call?x=1", authority: "api.example.com:8443", scheme: "https",
            headers: HTTPHeaderList(headers), chunked: true, acceptsTrailers: acceptsTrailers)
    }

    @Test func requestFieldsStartWithPseudoHeadersAndDropHopByHop() {
        let fields = UpstreamHTTP2Fields.request(
            Self.request(headers: [
                ("host", "api.example.com:8443"), ("Content-Type", "application/grpc"), ("Connection", "keep-alive"),
                ("Keep-Alive", "timeout=5"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
                ("TE", "trailers"), ("Expect", "100-continue"), ("X-Custom", "Value"),
            ]))
        #expect(fields.map(\.name) == [":method", ":scheme", ":authority", ":path", "content-type", "x-custom"])
        #expect(fields[0].value == "POST")
        #expect(fields[1].value == "https")
        #expect(fields[2].value == "api.example.com:8443")
        #expect(fields[3].value == "/pkg.Svc/Call?x=1")
        #expect(fields[5].value == "Value", "values keep their case")
    }

    @Test func teTrailersOnlyWhenTheClientAcceptsTrailers() {
        let with = UpstreamHTTP2Fields.request(Self.request(headers: [("host", "a")], acceptsTrailers: true))
        #expect(with.last == HTTP2Header(name: "te", value: "trailers"))
        let without = UpstreamHTTP2Fields.request(Self.request(headers: [("host", "a"), ("te", "trailers")]))
        #expect(!without.contains { $0.name == "te" })
    }

    @Test func responseHeadFramingFollowsContentLengthAndEndStream() {
        let sized = UpstreamHTTP2Fields.responseHead(
            [HTTP2Header(name: ":status", value: "200"), HTTP2Header(name: "content-length", value: "12")],
            endStream: false)
        #expect(sized.status == 200)
        #expect(sized.framing == .contentLength(12))
        #expect(sized.headers.first("content-length") == "12")
        let open = UpstreamHTTP2Fields.responseHead(
            [HTTP2Header(name: ":status", value: "200"), HTTP2Header(name: "content-type", value: "application/grpc")],
            endStream: false)
        #expect(open.framing == .chunked, "no length: HTTP/1.1 clients get it chunked (and the trailers)")
        let trailersOnly = UpstreamHTTP2Fields.responseHead(
            [HTTP2Header(name: ":status", value: "200"), HTTP2Header(name: "grpc-status", value: "5")], endStream: true)
        #expect(trailersOnly.framing == .none)
        #expect(trailersOnly.headers.first("grpc-status") == "5")
        #expect(trailersOnly.headers.first(":status") == nil)
    }

    @Test func teValuesListingTrailersAreRecognised() {
        #expect(DownstreamRequestHead.hasTrailersToken("trailers"))
        #expect(DownstreamRequestHead.hasTrailersToken("gzip, Trailers;q=0.5"))
        #expect(!DownstreamRequestHead.hasTrailersToken("gzip"))
        #expect(!DownstreamRequestHead.hasTrailersToken("trailersx"))
    }

    @Test func grpcTimeoutUnitsAndMalformedValues() {
        #expect(GRPCSupport.timeout("300m") == .milliseconds(300))
        #expect(GRPCSupport.timeout("2S") == .seconds(2))
        #expect(GRPCSupport.timeout("1H") == .seconds(3600))
        #expect(GRPCSupport.timeout("5M") == .seconds(300))
        #expect(GRPCSupport.timeout("100u") == .microseconds(100))
        #expect(GRPCSupport.timeout("7n") == .nanoseconds(7))
        #expect(GRPCSupport.timeout("99999999S") == .seconds(99_999_999), "8 digits is the maximum")
        for bad in ["", "m", "123456789S", "10x", "-1S", "1.5S", "10 S"] {
            #expect(GRPCSupport.timeout(bad) == nil, "\(bad)")
        }
    }

    @Test func grpcLocalRepliesMapStatusesAndEncodeMessages() {
        #expect(GRPCSupport.status(forHTTP: 503) == 14)
        #expect(GRPCSupport.status(forHTTP: 504) == 14)
        #expect(GRPCSupport.status(forHTTP: 404) == 12)
        #expect(GRPCSupport.status(forHTTP: 403) == 7)
        #expect(GRPCSupport.status(forHTTP: 401) == 16)
        #expect(GRPCSupport.status(forHTTP: 400) == 13)
        #expect(GRPCSupport.status(forHTTP: 500) == 2)
        let headers = GRPCSupport.localReplyHeaders(
            status: 503, body: Array("no healthy upstream".utf8),
            base: HTTPHeaderList([("content-length", "19"), ("content-type", "text/plain"), ("server", "p")]))
        #expect(headers.first("content-type") == "application/grpc")
        #expect(headers.first("content-length") == nil)
        #expect(headers.first("grpc-status") == "14")
        #expect(headers.first("grpc-message") == "no healthy upstream")
        #expect(headers.first("server") == "p")
        #expect(GRPCSupport.percentEncoded(Array("100% é\n".utf8)) == "100%25 %C3%A9%0A")
        #expect(GRPCSupport.isGRPC(HTTPHeaderList([("Content-Type", "application/grpc+proto")])))
        #expect(!GRPCSupport.isGRPC(HTTPHeaderList([("content-type", "application/json")])))
    }
}
