import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One client TCP connection driven by hand: send exact bytes, then read until a marker appears (or the peer
/// closes), with a deadline. For exchanges that continue after a response, such as a protocol upgrade.
final class RawConnection {
    private let fd: Int32
    /// Bytes received but not yet returned by a `read`.
    private var buffer: [UInt8] = []
    private(set) var peerClosed = false

    init(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw TestFailure("connect to \(port) failed")
        }
        self.fd = fd
    }

    /// Ends the connection both ways now (the descriptor itself is closed on deinit).
    func hangUp() {
        _ = shutdown(self.fd, Int32(SHUT_RDWR))
    }

    deinit {
        close(self.fd)
    }

    func send(_ text: String) throws {
        try self.send(Array(text.utf8))
    }

    func send(_ data: [UInt8]) throws {
        var offset = 0
        while offset < data.count {
            let n = data[offset...].withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send failed after \(offset) bytes") }
            offset += n
        }
    }

    /// Reads until `marker` has arrived; returns everything up to and including it (the rest stays buffered).
    /// Throws when the deadline passes or the peer closes first, with what did arrive in the message.
    func read(until marker: String, timeout: Duration = .seconds(10)) throws -> String {
        let needle = Array(marker.utf8)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = self.buffer.firstRange(of: needle) {
                let out = String(decoding: self.buffer[..<range.upperBound], as: UTF8.self)
                self.buffer.removeSubrange(..<range.upperBound)
                return out
            }
            guard !self.peerClosed else {
                throw TestFailure("closed before \(marker.debugDescription); got \(self.pendingText.debugDescription)")
            }
            guard try self.receive(before: deadline) else {
                throw TestFailure("timed out waiting for \(marker.debugDescription); got \(self.pendingText.debugDescription)")
            }
        }
    }

    /// Reads until the peer closes (or the deadline passes: then throws); returns everything not yet returned.
    func readUntilClosed(timeout: Duration = .seconds(10)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while !self.peerClosed {
            guard try self.receive(before: deadline) else {
                throw TestFailure("timed out waiting for close; got \(self.pendingText.debugDescription)")
            }
        }
        let out = self.pendingText
        self.buffer = []
        return out
    }

    private var pendingText: String { String(decoding: self.buffer, as: UTF8.self) }

    /// Waits for readable data until `deadline`; false on timeout. Sets `peerClosed` on EOF or reset.
    private func receive(before deadline: ContinuousClock.Instant) throws -> Bool {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { return false }
        let (seconds, attoseconds) = remaining.components
        let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
        var pfd = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, millis)
        if ready < 0 {
            if errno == EINTR { return true }
            throw TestFailure("poll failed: \(errno)")
        }
        if ready == 0 { return ContinuousClock.now < deadline }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(self.fd, &chunk, chunk.count, 0)
        if n <= 0 {
            self.peerClosed = true
        } else {
            self.buffer.append(contentsOf: chunk[0..<n])
        }
        return true
    }
}

extension RawClient {
    /// Writes `bytes`, then reads until `marker` has arrived (not until close), with a deadline.
    static func exchange(port: Int, bytes: String, until marker: String, timeout: Duration = .seconds(10)) throws
        -> String
    {
        let connection = try RawConnection(port: port)
        try connection.send(bytes)
        return try connection.read(until: marker, timeout: timeout)
    }
}
