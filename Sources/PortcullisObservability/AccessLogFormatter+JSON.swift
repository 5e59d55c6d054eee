extension AccessLogFormatter {
    /// Istio's `EnvoyJSONLogFormatIstio` object on one line.
    ///
    /// Keys are sorted, as Envoy's JSON formatter prints a protobuf `Struct`. Numeric operators (`%RESPONSE_CODE%`,
    /// `%BYTES_RECEIVED%`, `%BYTES_SENT%`, `%DURATION%`) are JSON numbers; header operators such as
    /// `%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%` stay strings; missing values are `null`.
    static func appendJSON(_ record: RequestRecord, into out: inout [UInt8]) {
        var writer = JSONObjectWriter()
        out.append(UInt8(ascii: "{"))
        writer.string("authority", record.authority, into: &out)
        writer.number("bytes_received", record.bytesReceived, into: &out)
        writer.number("bytes_sent", record.bytesSent, into: &out)
        writer.string("connection_termination_details", record.connectionTerminationDetails, into: &out)
        writer.string("downstream_local_address", record.downstreamLocalAddress, into: &out)
        writer.string("downstream_remote_address", record.downstreamRemoteAddress, into: &out)
        writer.number("duration", record.durationMs, into: &out)
        writer.string("method", record.method, into: &out)
        writer.string("path", record.path, into: &out)
        writer.string("protocol", record.protocolName, into: &out)
        writer.string("request_id", record.requestId, into: &out)
        writer.string("requested_server_name", record.requestedServerName, into: &out)
        writer.number("response_code", record.responseCode, into: &out)
        writer.string("response_code_details", record.responseCodeDetails, into: &out)
        writer.string("response_flags", record.responseFlags.description, into: &out)
        writer.string("route_name", record.routeName, into: &out)
        // Portcullis's own key, only on egress lines: other lines keep exactly Istio's key set.
        if let entry = record.serviceEntry { writer.string("service_entry", entry, into: &out) }
        writer.key("start_time", into: &out)
        out.append(UInt8(ascii: "\""))
        LogEncoding.appendTimestamp(record.startTime, into: &out)
        out.append(UInt8(ascii: "\""))
        writer.string("upstream_cluster", record.upstreamCluster, into: &out)
        writer.string("upstream_host", record.upstreamHost, into: &out)
        writer.string("upstream_local_address", record.upstreamLocalAddress, into: &out)
        writer.string("upstream_service_time", record.upstreamServiceTimeMs.map { String($0) }, into: &out)
        writer.string("upstream_transport_failure_reason", record.upstreamTransportFailureReason, into: &out)
        writer.string("user_agent", record.userAgent, into: &out)
        writer.string("x_forwarded_for", record.xForwardedFor, into: &out)
        out.append(UInt8(ascii: "}"))
    }
}

/// Appends `"key":value` pairs of one flat JSON object to a caller-owned buffer (no copy of the batch buffer).
private struct JSONObjectWriter {
    private var first = true

    mutating func key(_ key: StaticString, into out: inout [UInt8]) {
        if !self.first {
            out.append(UInt8(ascii: ","))
        }
        self.first = false
        out.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: "\":".utf8)
    }

    /// A string value; nil or empty prints `null`, as Envoy does for a value it does not have.
    mutating func string(_ key: StaticString, _ value: String?, into out: inout [UInt8]) {
        self.key(key, into: &out)
        guard let value, !value.isEmpty else {
            out.append(contentsOf: "null".utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        LogEncoding.appendJSONEscaped(value, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    mutating func number(_ key: StaticString, _ value: Int, into out: inout [UInt8]) {
        self.key(key, into: &out)
        LogEncoding.appendInteger(value, into: &out)
    }
}
