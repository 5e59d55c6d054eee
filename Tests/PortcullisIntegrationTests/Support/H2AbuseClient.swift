import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs `Tests/Fixtures/h2_abuse.py`, the raw-frame HTTP/2 attacker, and decodes the JSON line(s) it prints.
enum H2AbuseClient {
    /// What the attacker saw (field meanings are documented in the script).
    struct Outcome: Decodable, CustomStringConvertible {
        struct GoAway: Decodable {
            var lastStreamId: Int
            var code: UInt32
            var debug: String
        }

        var goaway: GoAway?
        var resets: [String: UInt32]
        var statuses: [String: Int]
        var dataBytes: Int
        var closed: Bool
        var reset: Bool
        var sendBlocked: Bool
        var sendFailed: Bool
        var framesSent: Int
        var bytesReceived: Int
        var elapsed: Double
        /// The status of the request sent after a flood (priority/window-update floods).
        var followStatus: Int?
        /// The line as printed, for failure messages.
        var raw = ""

        enum CodingKeys: String, CodingKey {
            case goaway, resets, statuses, dataBytes, closed, reset, sendBlocked, sendFailed, framesSent, bytesReceived
            case elapsed, followStatus
        }

        func reset(_ streamID: Int) -> UInt32? { self.resets[String(streamID)] }
        func status(_ streamID: Int) -> Int? { self.statuses[String(streamID)] }
        var description: String { self.raw }
    }

    /// Runs one attack against `port` and returns the outcome with the wall-clock time the script took.
    static func run(_ attack: String, port: Int, _ arguments: [String] = []) async throws -> (Outcome, Duration) {
        let (outcomes, took) = try await self.runAll(attack, port: port, arguments)
        guard let last = outcomes.last else { throw TestFailure("h2_abuse.py \(attack) printed nothing") }
        return (last, took)
    }

    /// Runs the script and decodes every line it printed (`malformed` prints one per case). The script is
    /// awaited by polling, so a long attack does not hold one of the few threads async tests share.
    static func runAll(_ attack: String, port: Int, _ arguments: [String] = []) async throws -> ([Outcome], Duration) {
        let started = ContinuousClock.now
        let running = try Running(attack, port: port, arguments)
        let outcomes = try await running.outcomes()
        return (outcomes, ContinuousClock.now - started)
    }
}

extension H2AbuseClient {
    /// The script as a child process, watched without blocking (`slow-read` prints `local PORT` first, so a test
    /// can look at the connection while the attack goes on).
    final class Running: @unchecked Sendable {
        let process = Process()
        private let outputFile: URL
        private let errorFile: URL

        init(_ attack: String, port: Int, _ arguments: [String]) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("h2-abuse-\(UUID())")
            self.outputFile = base.appendingPathExtension("out")
            self.errorFile = base.appendingPathExtension("err")
            for file in [self.outputFile, self.errorFile] {
                guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                    throw TestFailure("cannot create \(file.path)")
                }
            }
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            self.process.arguments =
                ["python3", "-u", PythonPeer.fixture("h2_abuse.py"), attack, "--port", String(port)] + arguments
            self.process.standardOutput = try FileHandle(forWritingTo: self.outputFile)
            self.process.standardError = try FileHandle(forWritingTo: self.errorFile)
            try self.process.run()
        }

        private var lines: [Substring] {
            ((try? String(contentsOf: self.outputFile, encoding: .utf8)) ?? "").split(separator: "\n")
        }

        private var errors: String { (try? String(contentsOf: self.errorFile, encoding: .utf8)) ?? "" }

        /// The client's local port, once the script printed it.
        func localPort(timeout: Duration = .seconds(10)) async throws -> Int {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let line = self.lines.first(where: { $0.hasPrefix("local ") }), let port = Int(line.dropFirst(6)) {
                    return port
                }
                guard self.process.isRunning else { throw TestFailure("h2_abuse.py exited early: \(self.errors)") }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw TestFailure("h2_abuse.py printed no local port")
        }

        /// Waits for the script to end and decodes every outcome line it printed.
        func outcomes(timeout: Duration = .seconds(60)) async throws -> [Outcome] {
            let deadline = ContinuousClock.now + timeout
            while self.process.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            guard !self.process.isRunning else { throw TestFailure("h2_abuse.py did not finish in \(timeout)") }
            guard self.process.terminationStatus == 0 else {
                throw TestFailure("h2_abuse.py exited \(self.process.terminationStatus): \(self.errors)")
            }
            return try self.lines.filter { $0.hasPrefix("{") }.map { line in
                var outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
                outcome.raw = String(line)
                return outcome
            }
        }

        /// Waits for the script to end and decodes its (last) outcome.
        func outcome(timeout: Duration = .seconds(60)) async throws -> Outcome {
            guard let last = try await self.outcomes(timeout: timeout).last else {
                throw TestFailure("h2_abuse.py printed no outcome: \(self.errors)")
            }
            return last
        }

        deinit {
            if self.process.isRunning {
                kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: self.outputFile)
            try? FileManager.default.removeItem(at: self.errorFile)
        }
    }
}
