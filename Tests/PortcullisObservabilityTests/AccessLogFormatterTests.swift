import Foundation
import Testing

@testable import PortcullisObservability

/// Exact access-log lines in Istio's default text and JSON formats.
struct AccessLogFormatterTests {
    /// 2024-05-01T12:00:00.123Z.
    static let start = Date(timeIntervalSince1970: 1_714_564_800.123)

    static var fullRecord: RequestRecord {
        var record = RequestRecord()
        record.startTime = Self.start
        record.method = "GET"
        record.path = "/productpage?u=1"
        record.protocolName = "HTTP/1.1"
        record.responseCode = 200
        record.responseFlags = []
        record.responseCodeDetails = "via_upstream"
        record.connectionTerminationDetails = nil
        record.upstreamTransportFailureReason = nil
        record.bytesReceived = 12
        record.bytesSent = 5293
        record.durationMs = 17
        record.upstreamServiceTimeMs = 15
        record.xForwardedFor = "203.0.113.7"
        record.userAgent = "curl/8.5.0"
        record.requestId = "8a1f6c2e-3b0d-4f51-9d7e-0c6b2a4e9f10"
        record.authority = "bookinfo.example.com"
        record.upstreamHost = "10.244.1.9:9080"
        record.upstreamCluster = "outbound|9080||productpage.default.svc.cluster.local"
        record.upstreamLocalAddress = "10.244.0.5:41234"
        record.downstreamLocalAddress = "10.244.0.5:8080"
        record.downstreamRemoteAddress = "203.0.113.7:55012"
        record.requestedServerName = "bookinfo.example.com"
        record.routeName = "productpage-route"
        return record
    }

    static var localReplyRecord: RequestRecord {
        var record = RequestRecord()
        record.startTime = Self.start
        record.method = "GET"
        record.path = "/nope"
        record.responseCode = 404
        record.responseFlags = .noRouteFound
        record.responseCodeDetails = "route_not_found"
        record.durationMs = 0
        return record
    }

    @Test func textWithEveryField() {
        let line = AccessLogFormatter.format(Self.fullRecord, as: .text)
        #expect(
            line
                == "[2024-05-01T12:00:00.123Z] \"GET /productpage?u=1 HTTP/1.1\" 200 - via_upstream - \"-\" "
                + "12 5293 17 15 "
                + "\"203.0.113.7\" \"curl/8.5.0\" \"8a1f6c2e-3b0d-4f51-9d7e-0c6b2a4e9f10\" \"bookinfo.example.com\" "
                + "\"10.244.1.9:9080\" outbound|9080||productpage.default.svc.cluster.local 10.244.0.5:41234 "
                + "10.244.0.5:8080 203.0.113.7:55012 bookinfo.example.com productpage-route")
    }

    @Test func textWithMissingFieldsPrintsDashes() {
        let line = AccessLogFormatter.format(Self.localReplyRecord, as: .text)
        #expect(
            line
                == "[2024-05-01T12:00:00.123Z] \"GET /nope HTTP/1.1\" 404 NR route_not_found - \"-\" 0 0 0 - "
                + "\"-\" \"-\" \"-\" \"-\" \"-\" - - - - - -")
    }

    @Test func textWithFailureFlagsAndTransportReason() {
        var record = Self.localReplyRecord
        record.responseCode = 503
        record.responseFlags = [.upstreamRetryLimitExceeded, .upstreamConnectionFailure]
        record.responseCodeDetails = "upstream_reset_before_response_started{connection_failure}"
        record.upstreamTransportFailureReason = "TLS_error:_CERTIFICATE_VERIFY_FAILED"
        let line = AccessLogFormatter.format(record, as: .text)
        #expect(line.hasPrefix(
            "[2024-05-01T12:00:00.123Z] \"GET /nope HTTP/1.1\" 503 UF,URX "
                + "upstream_reset_before_response_started{connection_failure} - "
                + "\"TLS_error:_CERTIFICATE_VERIFY_FAILED\" 0 0 0 -"))
    }

    @Test func jsonWithEveryField() {
        let line = AccessLogFormatter.format(Self.fullRecord, as: .json)
        let expected = #"{"authority":"bookinfo.example.com","bytes_received":12,"bytes_sent":5293,"#
            + #""connection_termination_details":null,"downstream_local_address":"10.244.0.5:8080","#
            + #""downstream_remote_address":"203.0.113.7:55012","duration":17,"method":"GET","#
            + #""path":"/productpage?u=1","protocol":"HTTP/1.1","#
            + #""request_id":"8a1f6c2e-3b0d-4f51-9d7e-0c6b2a4e9f10","requested_server_name":"bookinfo.example.com","#
            + #""response_code":200,"response_code_details":"via_upstream","response_flags":"-","#
            + #""route_name":"productpage-route","start_time":"2024-05-01T12:00:00.123Z","#
            + #""upstream_cluster":"outbound|9080||productpage.default.svc.cluster.local","#
            + #""upstream_host":"10.244.1.9:9080","upstream_local_address":"10.244.0.5:41234","#
            + #""upstream_service_time":"15","upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","#
            + #""x_forwarded_for":"203.0.113.7"}"#
        #expect(line == expected)
        let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(parsed?.count == 24)
    }

    @Test func jsonWithMissingFieldsPrintsNull() {
        let line = AccessLogFormatter.format(Self.localReplyRecord, as: .json)
        let expected = #"{"authority":null,"bytes_received":0,"bytes_sent":0,"connection_termination_details":null,"#
            + #""downstream_local_address":null,"downstream_remote_address":null,"duration":0,"method":"GET","#
            + #""path":"/nope","protocol":"HTTP/1.1","request_id":null,"requested_server_name":null,"#
            + #""response_code":404,"response_code_details":"route_not_found","response_flags":"NR","#
            + #""route_name":null,"start_time":"2024-05-01T12:00:00.123Z","upstream_cluster":null,"#
            + #""upstream_host":null,"upstream_local_address":null,"upstream_service_time":null,"#
            + #""upstream_transport_failure_reason":null,"user_agent":null,"x_forwarded_for":null}"#
        #expect(line == expected)
    }

    /// Egress lines name the ServiceEntry in JSON (Portcullis's own key, in sorted place); the text line keeps
    /// Istio's exact fields.
    @Test func egressLinesNameTheServiceEntryInJSON() {
        var record = Self.localReplyRecord
        record.serviceEntry = "default/www-external"
        let json = AccessLogFormatter.format(record, as: .json)
        #expect(json.contains(#""route_name":null,"service_entry":"default/www-external","start_time""#), "\(json)")
        #expect(AccessLogFormatter.format(record, as: .text) == AccessLogFormatter.format(Self.localReplyRecord, as: .text))
    }

    /// HARDENING.md B6 #9: a hostile User-Agent can neither break the line nor forge quoted fields.
    @Test func hostileValuesAreEscaped() {
        var record = Self.localReplyRecord
        record.userAgent = "evil\" \"forged\nline2\r\t\u{1}\\%"
        let text = AccessLogFormatter.format(record, as: .text)
        #expect(!text.contains("\n") && !text.contains("\r"))
        #expect(text.contains(#""evil\" \"forged\nline2\r\t\x01\\%""#))
        let json = AccessLogFormatter.format(record, as: .json)
        #expect(json.contains(#""user_agent":"evil\" \"forged\nline2\r\t\u0001\\%""#))
        let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(parsed?["user_agent"] as? String == record.userAgent)
    }

    @Test func timestampsAcrossCalendarEdges() {
        func render(_ seconds: Double) -> String {
            var bytes: [UInt8] = []
            LogEncoding.appendTimestamp(Date(timeIntervalSince1970: seconds), into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(render(0) == "1970-01-01T00:00:00.000Z")
        #expect(render(951_782_400.999) == "2000-02-29T00:00:00.999Z")
        #expect(render(4_107_542_399.5) == "2100-02-28T23:59:59.500Z")
        #expect(render(-0.001) == "1969-12-31T23:59:59.999Z")
    }
}
