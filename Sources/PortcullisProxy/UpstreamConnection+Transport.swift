import NIOCore

/// HTTP/1.1 framing of the protocol-neutral request path: the head serialized with Host first, chunk framing
/// when the request is chunked, and the connection back to the pool after a complete exchange.
extension UpstreamConnection: UpstreamTransport {
    var canResendOnEarlyClose: Bool { true }
    var answersExpectContinue: Bool { false }
    var requestsServed: Int { self.requestCount }

    func sendHead(_ request: UpstreamRequest, endStream: Bool, allocator: ByteBufferAllocator) {
        var buffer = allocator.buffer(capacity: 512)
        HTTP1Serializer.writeRequestHead(
            method: request.method, target: request.path, headers: request.headers, into: &buffer)
        self.chunked = request.chunked
        if endStream && request.chunked { HTTP1Serializer.writeLastChunk(trailers: nil, into: &buffer) }
        self.write(buffer)
    }

    func sendBody(_ body: ByteBuffer, allocator: ByteBufferAllocator) {
        guard self.chunked else {
            self.write(body)
            return
        }
        guard body.readableBytes > 0 else { return }
        var framed = allocator.buffer(capacity: body.readableBytes + 16)
        HTTP1Serializer.writeChunk(body, into: &framed)
        self.write(framed)
    }

    func sendEnd(trailers: HTTPHeaderList?, allocator: ByteBufferAllocator) {
        guard self.chunked else { return }
        var framed = allocator.buffer(capacity: 8)
        HTTP1Serializer.writeLastChunk(trailers: trailers, into: &framed)
        self.write(framed)
    }

    func sendTunnel(_ data: ByteBuffer) {
        self.write(data)
        self.flush()
    }

    func complete(reusable: Bool, idleTimeout: TimeAmount) {
        if reusable, let pool = self.pool {
            pool.release(self, idleTimeout: idleTimeout)
        } else {
            self.close()
        }
    }

    func abort() {
        self.close()
    }
}
