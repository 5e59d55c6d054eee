import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes access-log lines from a background thread, so event loops never block on log I/O.
///
/// `log(_:)` only appends the record to a bounded in-memory queue (formatting happens on the writer thread). When
/// the queue is full, for example because stdout is a pipe nobody drains, the record is dropped and counted rather
/// than stalling the proxy (HARDENING.md: bounded memory). Files are opened with `O_APPEND`, so several writers and
/// external log rotation by copy-truncate behave; reopening on SIGHUP is not supported.
public final class AccessLogger: Sendable {
    /// Where lines go, as in Istio's MeshConfig `accessLogFile` (`""` = off, `/dev/stdout`, or a path).
    public enum Destination: Sendable {
        case off
        case stdout
        case file(String)
    }

    /// Opening the log file failed.
    public struct OpenError: Error, CustomStringConvertible {
        public let path: String
        public let errno: Int32

        public var description: String {
            "cannot open access log \(self.path): \(String(cString: strerror(self.errno)))"
        }
    }

    private let queue: AccessLogQueue?
    private let dropCounter: MetricCounter?

    /// Opens the destination and starts the writer thread (none for `.off`).
    ///
    /// - Parameters:
    ///   - capacity: records that may wait for the writer before new ones are dropped.
    ///   - dropCounter: incremented for each dropped record, e.g. `portcullis_access_log_dropped_total`.
    public init(
        destination: Destination, format: AccessLogFormat, capacity: Int = 65_536, dropCounter: MetricCounter? = nil
    ) throws {
        self.dropCounter = dropCounter
        let descriptor: Int32
        let ownsDescriptor: Bool
        switch destination {
        case .off:
            self.queue = nil
            return
        case .stdout:
            descriptor = STDOUT_FILENO
            ownsDescriptor = false
        case .file(let path):
            descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw OpenError(path: path, errno: errno)
            }
            ownsDescriptor = true
        }
        let queue = AccessLogQueue(
            descriptor: descriptor, ownsDescriptor: ownsDescriptor, format: format, capacity: max(capacity, 1))
        self.queue = queue
        let thread = Thread {
            queue.runWriter()
        }
        thread.name = "portcullis-access-log"
        thread.start()
    }

    deinit {
        self.queue?.stop()
    }

    /// Queues one record; never blocks on I/O. Drops (and counts) the record when the queue is full.
    public func log(_ record: RequestRecord) {
        guard let queue = self.queue else {
            return
        }
        if !queue.enqueue(record) {
            self.dropCounter?.increment()
        }
    }

    /// Blocks until every record queued before this call has been written (shutdown and tests).
    public func flush() {
        self.queue?.waitUntilDrained()
    }

    /// Writes what is queued, stops the writer thread and closes the file. Later `log` calls are ignored.
    public func shutdown() {
        self.queue?.stop()
    }

    /// Records dropped because the queue was full.
    public var droppedCount: Int {
        self.queue?.droppedCount ?? 0
    }
}
