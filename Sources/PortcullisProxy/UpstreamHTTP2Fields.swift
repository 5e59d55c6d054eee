import PortcullisHTTP2

/// HTTP/1-shaped heads to HTTP/2 fields and back, for HTTP/2 upstreams (RFC 9113 §8.2–8.3).
enum UpstreamHTTP2Fields {
    /// Pseudo-headers first, then the regular fields in lower case without `host` (it is `:authority`), without
    /// connection-specific fields and `transfer-encoding`, and with `te: trailers` only when the client accepts
    /// trailers. `expect: 100-continue` is answered by the gateway instead (HTTP/2 flow control bounds the body).
    static func request(_ request: UpstreamRequest) -> [HTTP2Header] {
        var fields: [HTTP2Header] = []
        fields.reserveCapacity(request.headers.count + 5)
        fields.append(HTTP2Header(name: ":method", value: request.method))
        fields.append(HTTP2Header(name: ":scheme", value: request.scheme))
        fields.append(HTTP2Header(name: ":authority", value: request.authority))
        fields.append(HTTP2Header(name: ":path", value: request.path))
        for index in 0..<request.headers.count {
            let (name, value) = request.headers[index]
            let lower = name.lowercased()
            switch lower {
            case "host", "te", "expect": continue
            default: if DownstreamHTTP2Stream.isConnectionSpecific(lower) { continue }
            }
            fields.append(HTTP2Header(name: lower, value: value))
        }
        if request.acceptsTrailers { fields.append(HTTP2Header(name: "te", value: "trailers")) }
        return fields
    }

    /// The response head of an HTTP/2 stream in the shape the exchange consumes: a body framed by its
    /// `content-length`, else open-ended (HTTP/1 clients get it chunked, which also carries the trailers), or none
    /// when the HEADERS frame ended the stream. HTTP/2 has no reason phrase: HTTP/1 clients get the standard one
    /// ("200 OK", as Envoy writes), not an empty one.
    static func responseHead(_ fields: [HTTP2Header], endStream: Bool) -> HTTP1ResponseHead {
        var status = 0
        var headers = HTTPHeaderList()
        var contentLength: Int?
        for field in fields {
            if field.name == ":status" {
                status = Int(field.value) ?? 0
                continue
            }
            if field.name.first == ":" { continue }
            if field.name == "content-length" { contentLength = Int(field.value) }
            headers.add(field.name, field.value)
        }
        let framing: HTTP1BodyFraming
        if let contentLength {
            framing = .contentLength(contentLength)
        } else {
            framing = endStream ? .none : .chunked
        }
        return HTTP1ResponseHead(
            status: status, reason: HTTP1Serializer.reasonPhrase(status), headers: headers, framing: framing,
            keepAlive: true)
    }

    static func headerList(_ fields: [HTTP2Header]) -> HTTPHeaderList {
        var list = HTTPHeaderList()
        for field in fields where field.name.first != ":" { list.add(field.name, field.value) }
        return list
    }
}
