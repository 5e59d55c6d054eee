import Foundation
import Testing

@testable import PortcullisObservability

/// The background access logger writing real files.
struct AccessLoggerTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-access-\(UUID().uuidString).log").path
    }

    @Test func writesFormattedLinesToFileOnFlush() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let logger = try AccessLogger(destination: .file(path), format: .text)
        var records: [RequestRecord] = []
        for code in [200, 404, 503] {
            var record = AccessLogFormatterTests.localReplyRecord
            record.responseCode = code
            records.append(record)
            logger.log(record)
        }
        logger.flush()
        let contents = try String(contentsOfFile: path, encoding: .utf8)
        let expected = records.map { AccessLogFormatter.format($0, as: .text) + "\n" }.joined()
        #expect(contents == expected)
        logger.shutdown()
    }

    @Test func appendsToAnExistingFileInJSON() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "previous line\n".write(toFile: path, atomically: false, encoding: .utf8)
        let logger = try AccessLogger(destination: .file(path), format: .json)
        logger.log(AccessLogFormatterTests.fullRecord)
        logger.shutdown()
        let contents = try String(contentsOfFile: path, encoding: .utf8)
        #expect(contents == "previous line\n" + AccessLogFormatter.format(AccessLogFormatterTests.fullRecord, as: .json)
            + "\n")
    }

    @Test func recordsAfterShutdownAreDroppedAndCounted() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metrics = GatewayMetrics(gatewayName: "portcullis", namespace: "default")
        let dropped = metrics.counter("portcullis_access_log_dropped_total", help: "Access-log records dropped.")
        let logger = try AccessLogger(destination: .file(path), format: .text, dropCounter: dropped)
        logger.shutdown()
        logger.log(AccessLogFormatterTests.localReplyRecord)
        logger.flush()
        #expect(logger.droppedCount == 1)
        #expect(metrics.renderPrometheus().contains("portcullis_access_log_dropped_total 1"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
    }

    @Test func offDestinationWritesNothing() throws {
        let logger = try AccessLogger(destination: .off, format: .text)
        logger.log(AccessLogFormatterTests.localReplyRecord)
        logger.flush()
        logger.shutdown()
        #expect(logger.droppedCount == 0)
    }

    @Test func unopenableFileThrows() {
        #expect(throws: AccessLogger.OpenError.self) {
            _ = try AccessLogger(destination: .file("/nonexistent-dir-\(UUID().uuidString)/a.log"), format: .text)
        }
    }
}
