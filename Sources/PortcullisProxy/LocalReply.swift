import NIOCore
import PortcullisObservability

/// Responses the gateway generates itself (ISTIO-SEMANTICS §0.1): exact statuses and bodies, `content-type:
/// text/plain` when there is a body, and our `server` and `date` headers.
enum LocalReply {
    static let noHealthyUpstream = "no healthy upstream"
    static let connectFailure =
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
    static let connectionTermination =
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
    static let protocolError =
        "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
    static let overflow = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
    static let timeout = "upstream request timeout"

    static func headers(
        status: Int, body: [UInt8]?, extraHeaders: [(String, String)], worker: Worker
    ) -> HTTPHeaderList {
        var headers = HTTPHeaderList()
        if let body, !body.isEmpty {
            headers.add("content-length", String(body.count))
            headers.add("content-type", "text/plain")
        } else if status != 204 && !(100..<200).contains(status) && status != 304 {
            headers.add("content-length", "0")
        }
        headers.add("date", worker.httpDate)
        headers.add("server", worker.services.serverName)
        for (name, value) in extraHeaders { headers.set(name, value) }
        return headers
    }

    static func render(
        status: Int, body: [UInt8]?, extraHeaders: [(String, String)], worker: Worker, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let headers = Self.headers(status: status, body: body, extraHeaders: extraHeaders, worker: worker)
        return self.render(status: status, headers: headers, body: body, includeBody: true, allocator: allocator)
    }

    static func render(
        status: Int, headers: HTTPHeaderList, body: [UInt8]?, includeBody: Bool, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + (body?.count ?? 0))
        HTTP1Serializer.writeResponseHead(status: status, reason: nil, headers: headers, into: &buffer)
        if includeBody, let body { buffer.writeBytes(body) }
        return buffer
    }

    /// Access log and metrics for a request rejected by the parser (no exchange exists for it).
    static func logMalformed(error: HTTP1ParseError, handler: DownstreamHTTP1Handler) {
        var record = RequestRecord()
        record.responseCode = error.status
        record.responseFlags = [.downstreamProtocolError]
        record.responseCodeDetails = "http1.codec_error"
        record.method = "-"
        record.path = "-"
        record.protocolName = "HTTP/1.1"
        record.downstreamRemoteAddress = handler.remoteAddress
        record.downstreamLocalAddress = handler.localAddress
        let services = handler.worker.services
        services.metrics.record(record)
        services.accessLog.log(record)
    }
}
