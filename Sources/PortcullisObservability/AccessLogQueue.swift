import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bounded queue between event loops and the access-log writer thread, and the writer loop itself.
///
/// All mutable state is guarded by `condition`; that is why the class is `@unchecked Sendable`. The writer takes
/// the whole pending batch at once, formats it into one buffer and writes it with as few `write(2)` calls as
/// possible, so a burst costs one lock round trip per batch, not per line.
final class AccessLogQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let format: AccessLogFormat
    private let capacity: Int

    // Guarded by `condition`.
    private var pending: [RequestRecord] = []
    private var enqueuedTotal = 0
    private var writtenTotal = 0
    private var dropped = 0
    private var stopping = false
    private var writerFinished = false

    init(descriptor: Int32, ownsDescriptor: Bool, format: AccessLogFormat, capacity: Int) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.format = format
        self.capacity = capacity
    }

    /// Appends a record; false when it was dropped (queue full or stopping).
    func enqueue(_ record: RequestRecord) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard !self.stopping, self.pending.count < self.capacity else {
            self.dropped += 1
            return false
        }
        self.pending.append(record)
        self.enqueuedTotal += 1
        if self.pending.count == 1 {
            self.condition.broadcast()
        }
        return true
    }

    var droppedCount: Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.dropped
    }

    /// Waits until everything enqueued so far has been written, or the writer has exited.
    func waitUntilDrained() {
        self.condition.lock()
        defer { self.condition.unlock() }
        let target = self.enqueuedTotal
        while self.writtenTotal < target && !self.writerFinished {
            self.condition.wait()
        }
    }

    /// Drains the queue, stops the writer and waits for it to exit. Idempotent.
    func stop() {
        self.condition.lock()
        self.stopping = true
        self.condition.broadcast()
        while !self.writerFinished {
            self.condition.wait()
        }
        self.condition.unlock()
    }

    /// The writer thread's body: take a batch, format it, write it, repeat until stopped and drained.
    func runWriter() {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64 * 1024)
        var batch: [RequestRecord] = []
        while true {
            self.condition.lock()
            while self.pending.isEmpty && !self.stopping {
                self.condition.wait()
            }
            if self.pending.isEmpty && self.stopping {
                self.writerFinished = true
                self.condition.broadcast()
                self.condition.unlock()
                break
            }
            swap(&batch, &self.pending)
            self.condition.unlock()

            buffer.removeAll(keepingCapacity: true)
            for record in batch {
                AccessLogFormatter.append(record, as: self.format, into: &buffer)
                buffer.append(UInt8(ascii: "\n"))
            }
            self.writeAll(buffer)
            let written = batch.count
            batch.removeAll(keepingCapacity: true)

            self.condition.lock()
            self.writtenTotal += written
            self.condition.broadcast()
            self.condition.unlock()
        }
        if self.ownsDescriptor {
            close(self.descriptor)
        }
    }

    /// Writes every byte, retrying on partial writes and EINTR; gives up on other errors (the log is best-effort).
    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let result = write(self.descriptor, raw.baseAddress! + offset, raw.count - offset)
                if result > 0 {
                    offset += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
