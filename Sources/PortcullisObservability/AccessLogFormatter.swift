/// The two access-log encodings Istio offers (MeshConfig `accessLogEncoding`: `TEXT` or `JSON`).
public enum AccessLogFormat: String, Sendable {
    /// Istio's default text line, `EnvoyTextLogFormat`.
    case text
    /// Istio's default JSON object, `EnvoyJSONLogFormatIstio`.
    case json
}

/// Renders a `RequestRecord` as one access-log line, byte-compatible with Istio's defaults.
///
/// Text follows Istio's `EnvoyTextLogFormat` (pilot/pkg/model/telemetry_logging.go, Istio 1.9 onwards):
///
///     [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
///     %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
///     "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
///     %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%"
///     "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
///     %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
///
/// (one line, single spaces). A missing or empty value prints `-`, as in Envoy.
///
/// One deliberate difference (HARDENING.md B6 #9, CVE-2024-45808, envoyproxy/envoy#4191): values are escaped so a
/// hostile header can neither start a new line nor forge fields. In text, `"` and `\` get a backslash, `\n`, `\r`,
/// `\t` print as those escapes and other control bytes as `\xHH`. JSON uses standard JSON string escaping.
///
/// JSON carries Istio's `EnvoyJSONLogFormatIstio` keys in the order Envoy prints them (sorted), with numbers for
/// `response_code`, `bytes_received`, `bytes_sent` and `duration`, and `null` for missing values.
public enum AccessLogFormatter {
    /// Formats one record as a line without the trailing newline.
    public static func format(_ record: RequestRecord, as format: AccessLogFormat) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        Self.append(record, as: format, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends one formatted record (without newline) to `bytes`; the logger's batch path, which skips `String`.
    static func append(_ record: RequestRecord, as format: AccessLogFormat, into bytes: inout [UInt8]) {
        switch format {
        case .text:
            Self.appendText(record, into: &bytes)
        case .json:
            Self.appendJSON(record, into: &bytes)
        }
    }

    /// Istio's `EnvoyTextLogFormat`, field by field.
    static func appendText(_ record: RequestRecord, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        LogEncoding.appendTimestamp(record.startTime, into: &out)
        out.append(contentsOf: "] \"".utf8)
        LogEncoding.appendTextField(record.method, into: &out)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendTextField(record.path, into: &out)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendTextField(record.protocolName, into: &out)
        out.append(contentsOf: "\" ".utf8)
        LogEncoding.appendInteger(record.responseCode, into: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: record.responseFlags.description.utf8)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendTextField(record.responseCodeDetails, into: &out)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendTextField(record.connectionTerminationDetails, into: &out)
        out.append(contentsOf: " \"".utf8)
        LogEncoding.appendTextField(record.upstreamTransportFailureReason, into: &out)
        out.append(contentsOf: "\" ".utf8)
        LogEncoding.appendInteger(record.bytesReceived, into: &out)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendInteger(record.bytesSent, into: &out)
        out.append(UInt8(ascii: " "))
        LogEncoding.appendInteger(record.durationMs, into: &out)
        out.append(UInt8(ascii: " "))
        if let serviceTime = record.upstreamServiceTimeMs {
            LogEncoding.appendInteger(serviceTime, into: &out)
        } else {
            out.append(UInt8(ascii: "-"))
        }
        Self.appendQuoted(record.xForwardedFor, into: &out)
        Self.appendQuoted(record.userAgent, into: &out)
        Self.appendQuoted(record.requestId, into: &out)
        Self.appendQuoted(record.authority, into: &out)
        Self.appendQuoted(record.upstreamHost, into: &out)
        Self.appendBare(record.upstreamCluster, into: &out)
        Self.appendBare(record.upstreamLocalAddress, into: &out)
        Self.appendBare(record.downstreamLocalAddress, into: &out)
        Self.appendBare(record.downstreamRemoteAddress, into: &out)
        Self.appendBare(record.requestedServerName, into: &out)
        Self.appendBare(record.routeName, into: &out)
    }

    /// ` "value"`: a space, then the escaped value in quotes.
    private static func appendQuoted(_ value: String?, into out: inout [UInt8]) {
        out.append(contentsOf: " \"".utf8)
        LogEncoding.appendTextField(value, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// ` value`: a space, then the escaped value.
    private static func appendBare(_ value: String?, into out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        LogEncoding.appendTextField(value, into: &out)
    }
}
