import PortcullisHTTP2

extension DownstreamRequestHead {
    /// The head of an HTTP/2 request the session already validated (RFC 9113 §8.3): `:authority` (else `host`) is
    /// the Host, cookie crumbs are joined with "; " for HTTP/1 upstreams (§8.2.3), and the body is framed by
    /// `content-length` when given, else chunked unless the HEADERS frame ended the stream.
    init(http2 fields: [HTTP2Header], endStream: Bool) {
        var method = ""
        var path = ""
        var authority: String?
        var host: String?
        var headers = HTTPHeaderList()
        var cookies: [String] = []
        var contentLength: Int?
        var expectContinue = false
        var acceptsTrailers = false
        var isGRPC = false
        for field in fields {
            if field.name.first == ":" {
                switch field.name {
                case ":method": method = field.value
                case ":path": path = field.value
                case ":authority": authority = field.value
                default: break
                }
                continue
            }
            switch field.name {
            case "cookie":
                cookies.append(field.value)
                continue
            case "te":
                // Only `trailers` is allowed here; it is passed on to HTTP/2 upstreams only.
                acceptsTrailers = true
                continue
            case "host":
                if host == nil { host = field.value }
                continue
            case "content-length":
                contentLength = Int(field.value)
            case "content-type":
                isGRPC = GRPCSupport.isGRPC(contentType: field.value)
            case "expect":
                expectContinue = field.value.lowercased() == "100-continue"
            default:
                break
            }
            headers.add(field.name, field.value)
        }
        if !cookies.isEmpty { headers.add("cookie", cookies.joined(separator: "; ")) }
        let framing: HTTP1BodyFraming
        if let contentLength {
            framing = contentLength == 0 ? .none : .contentLength(contentLength)
        } else {
            framing = endStream ? .none : .chunked
        }
        self.init(
            method: method, target: method == "CONNECT" ? (authority ?? "") : path, headers: headers,
            framing: framing, host: authority ?? host, expectContinue: expectContinue, protocolName: "HTTP/2",
            acceptsTrailers: acceptsTrailers, isGRPC: isGRPC)
    }
}
