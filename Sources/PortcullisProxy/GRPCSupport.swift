import NIOCore

/// What the gateway does specially for gRPC requests (`content-type: application/grpc...`), as Envoy does:
/// local replies become gRPC errors, and `grpc-timeout` stands in for a missing route timeout.
enum GRPCSupport {
    /// Whether a request is gRPC (`application/grpc`, `application/grpc+proto`, `application/grpc-web...`).
    static func isGRPC(_ headers: HTTPHeaderList) -> Bool {
        headers.first("content-type").map { Self.isGRPC(contentType: $0) } ?? false
    }

    /// Whether a `content-type` value is gRPC; the codecs call it while they read the head (no second pass).
    static func isGRPC(contentType type: String) -> Bool {
        type.utf8.count >= 16 && type.lowercased().hasPrefix("application/grpc")
    }

    /// Envoy's HTTP-to-gRPC status mapping for local replies (`Grpc::Utility::httpToGrpcStatus`).
    static func status(forHTTP status: Int) -> Int {
        switch status {
        case 400: 13  // INTERNAL
        case 401: 16  // UNAUTHENTICATED
        case 403: 7  // PERMISSION_DENIED
        case 404: 12  // UNIMPLEMENTED
        case 429, 502, 503, 504: 14  // UNAVAILABLE
        default: 2  // UNKNOWN
        }
    }

    /// The gRPC "Trailers-Only" form of a local reply: HTTP 200, `content-type: application/grpc`, the mapped
    /// `grpc-status` and the body as `grpc-message` (percent-encoded per the gRPC HTTP/2 spec), no body.
    static func localReplyHeaders(status: Int, body: [UInt8]?, base: HTTPHeaderList) -> HTTPHeaderList {
        var headers = HTTPHeaderList()
        for index in 0..<base.count {
            let (name, value) = base[index]
            let lower = name.lowercased()
            if lower == "content-length" || lower == "content-type" { continue }
            headers.add(name, value)
        }
        headers.add("content-type", "application/grpc")
        headers.add("grpc-status", String(Self.status(forHTTP: status)))
        if let body, !body.isEmpty { headers.add("grpc-message", Self.percentEncoded(body)) }
        return headers
    }

    /// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
    static func percentEncoded(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "%")))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }

    /// A `grpc-timeout` value (1–8 digits and a unit of H, M, S, m, u or n) as a duration; nil when malformed.
    static func timeout(_ value: String) -> Duration? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes.count <= 9, let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }
}
