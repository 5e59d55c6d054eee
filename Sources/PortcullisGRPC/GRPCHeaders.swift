import Foundation
import GRPCCore
import PortcullisHTTP2

/// Translation between gRPC metadata/status and HTTP/2 header fields (gRPC over HTTP/2 protocol spec).
enum GRPCHeaders {
    /// Request headers: pseudo-headers, content type, `te: trailers`, an optional `grpc-timeout`, then the
    /// caller's metadata (reserved names dropped, binary values base64-encoded under their `-bin` keys).
    static func request(
        path: String, authority: String, scheme: String, timeout: Duration?, metadata: Metadata
    ) -> [HTTP2Header] {
        var headers = [
            HTTP2Header(name: ":method", value: "POST"),
            HTTP2Header(name: ":scheme", value: scheme),
            HTTP2Header(name: ":path", value: path),
            HTTP2Header(name: ":authority", value: authority),
            HTTP2Header(name: "content-type", value: "application/grpc+proto"),
            HTTP2Header(name: "te", value: "trailers"),
            HTTP2Header(name: "user-agent", value: "portcullis-grpc"),
        ]
        if let timeout {
            headers.append(HTTP2Header(name: "grpc-timeout", value: Self.encodeTimeout(timeout)))
        }
        for (key, value) in metadata {
            let name = key.lowercased()
            guard !Self.reserved.contains(name), !name.hasPrefix(":") else { continue }
            headers.append(HTTP2Header(name: name, value: value.encoded()))
        }
        return headers
    }

    /// Names the transport sets itself.
    private static let reserved: Set<String> = [
        "content-type", "te", "user-agent", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "host",
        "connection", "transfer-encoding",
    ]

    /// `grpc-timeout`: at most 8 digits and a unit, rounded up so the server never sees a shorter deadline.
    static func encodeTimeout(_ timeout: Duration) -> String {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        let units: [(String, Int64)] = [("n", 1), ("u", 1_000), ("m", 1_000_000), ("S", 1_000_000_000),
                                        ("M", 60_000_000_000), ("H", 3_600_000_000_000)]
        for (unit, size) in units {
            let value = (nanoseconds + size - 1) / size
            if value < 100_000_000 { return "\(value)\(unit)" }
        }
        return "99999999H"
    }

    /// Response metadata from a header block: everything but pseudo-headers and the gRPC framing fields.
    static func metadata(_ headers: [HTTP2Header]) -> Metadata {
        var metadata = Metadata()
        for header in headers {
            let name = header.name
            if name.hasPrefix(":") || name == "grpc-status" || name == "grpc-message" || name == "content-type" {
                continue
            }
            if name.hasSuffix("-bin") {
                if let bytes = Self.decodeBase64(header.value) { metadata.addBinary(bytes, forKey: name) }
            } else {
                metadata.addString(header.value, forKey: name)
            }
        }
        return metadata
    }

    /// The call's status from trailers (or a Trailers-Only response).
    static func status(_ headers: [HTTP2Header]) -> Status {
        guard let raw = headers.first(where: { $0.name == "grpc-status" })?.value else {
            return Status(code: .unknown, message: "the server's trailers carry no grpc-status")
        }
        guard let number = Int(raw), let code = Status.Code(rawValue: number) else {
            return Status(code: .unknown, message: "invalid grpc-status \(raw)")
        }
        let message = headers.first(where: { $0.name == "grpc-message" }).map { Self.percentDecode($0.value) } ?? ""
        return Status(code: code, message: message)
    }

    /// The status for a response that is not gRPC (HTTP status other than 200), per the HTTP-to-gRPC mapping.
    static func status(httpStatus: Int) -> Status {
        let code: Status.Code
        switch httpStatus {
        case 400: code = .internalError
        case 401: code = .unauthenticated
        case 403: code = .permissionDenied
        case 404: code = .unimplemented
        case 429, 502, 503, 504: code = .unavailable
        default: code = .unknown
        }
        return Status(code: code, message: "the server answered HTTP \(httpStatus) instead of a gRPC response")
    }

    /// The error for a stream reset by the server (gRPC over HTTP/2: RST_STREAM code mapping).
    static func error(resetCode: UInt32) -> RPCError {
        let code: RPCError.Code
        switch resetCode {
        case HTTP2ErrorCode.refusedStream: code = .unavailable
        case HTTP2ErrorCode.cancel: code = .cancelled
        case HTTP2ErrorCode.enhanceYourCalm: code = .resourceExhausted
        case 0xC: code = .permissionDenied  // INADEQUATE_SECURITY
        default: code = .internalError
        }
        return RPCError(code: code, message: "the server reset the stream (HTTP/2 error code \(resetCode))")
    }

    /// `grpc-message` is percent-encoded; an invalid sequence leaves the text as sent.
    static func percentDecode(_ value: String) -> String {
        value.contains("%") ? value.removingPercentEncoding ?? value : value
    }

    /// Binary metadata (`-bin`) is base64, padded or not.
    private static func decodeBase64(_ text: String) -> [UInt8]? {
        var padded = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
