import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs `Tests/Fixtures/h2_abuse.py`, the raw-frame HTTP/2 attacker, and decodes the one JSON line it prints.
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
    static func run(_ attack: String, port: Int, _ arguments: [String] = []) throws -> (Outcome, Duration) {
        let (outcomes, took) = try self.runAll(attack, port: port, arguments)
        guard let last = outcomes.last else { throw TestFailure("h2_abuse.py \(attack) printed nothing") }
        return (last, took)
    }

    /// Runs the script and decodes every line it printed (`malformed` prints one per case).
    static func runAll(_ attack: String, port: Int, _ arguments: [String] = []) throws -> ([Outcome], Duration) {
        let started = ContinuousClock.now
        let (code, out, err) = try Command.run(
            "/usr/bin/env", ["python3", PythonPeer.fixture("h2_abuse.py"), attack, "--port", String(port)] + arguments)
        let took = ContinuousClock.now - started
        guard code == 0 else { throw TestFailure("h2_abuse.py \(attack) exited \(code): \(err)") }
        let outcomes = try out.split(separator: "\n").map { line in
            var outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
            outcome.raw = String(line)
            return outcome
        }
        return (outcomes, took)
    }
}

/// Resident memory of a process from `/proc/PID/status`, in KiB: current (`VmRSS`) and peak (`VmHWM`).
enum ProcessMemory {
    static func kibibytes(pid: Int32, field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") }),
            let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first,
            let kib = Int(value)
        else { throw TestFailure("no \(field) in /proc/\(pid)/status") }
        return kib
    }

    static func resident(pid: Int32) throws -> Int { try self.kibibytes(pid: pid, field: "VmRSS") }
    static func peak(pid: Int32) throws -> Int { try self.kibibytes(pid: pid, field: "VmHWM") }
}

extension H2AbuseClient {
    /// An attack left running while the test watches the gateway (`slow-read` prints `local PORT` first).
    final class Running: @unchecked Sendable {
        let process = Process()
        private let outputFile: URL

        init(_ attack: String, port: Int, _ arguments: [String]) throws {
            self.outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("h2-abuse-\(UUID()).out")
            guard FileManager.default.createFile(atPath: self.outputFile.path, contents: nil) else {
                throw TestFailure("cannot create \(self.outputFile.path)")
            }
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            self.process.arguments =
                ["python3", "-u", PythonPeer.fixture("h2_abuse.py"), attack, "--port", String(port)] + arguments
            self.process.standardOutput = try FileHandle(forWritingTo: self.outputFile)
            self.process.standardError = FileHandle.nullDevice
            try self.process.run()
        }

        private var lines: [Substring] {
            ((try? String(contentsOf: self.outputFile, encoding: .utf8)) ?? "").split(separator: "\n")
        }

        /// The client's local port, once the script printed it.
        func localPort(timeout: Duration = .seconds(10)) async throws -> Int {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let line = self.lines.first(where: { $0.hasPrefix("local ") }), let port = Int(line.dropFirst(6)) {
                    return port
                }
                guard self.process.isRunning else { throw TestFailure("h2_abuse.py exited early") }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw TestFailure("h2_abuse.py printed no local port")
        }

        /// Waits for the script to end and decodes its outcome.
        func outcome(timeout: Duration = .seconds(20)) async throws -> Outcome {
            let deadline = ContinuousClock.now + timeout
            while self.process.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            guard !self.process.isRunning, let line = self.lines.last(where: { $0.hasPrefix("{") }) else {
                throw TestFailure("h2_abuse.py did not finish")
            }
            var outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
            outcome.raw = String(line)
            return outcome
        }

        deinit {
            if self.process.isRunning {
                kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: self.outputFile)
        }
    }
}

/// TCP states from `/proc/net/tcp`, to see what the kernel knows of a connection the client is not reading.
enum LoopbackSockets {
    /// The state (hex, e.g. `01` ESTABLISHED, `04` FIN_WAIT1) of the IPv4 socket bound to `localPort` and
    /// connected to `remotePort`, or nil once it is gone.
    static func state(localPort: Int, remotePort: Int) -> String? {
        guard let table = self.readAll("/proc/net/tcp") else { return nil }
        let local = self.hexPort(localPort)
        let remote = self.hexPort(remotePort)
        for row in table.split(separator: "\n").dropFirst() {
            let columns = row.split(separator: " ")
            guard columns.count > 3, columns[1].hasSuffix(local), columns[2].hasSuffix(remote) else { continue }
            return String(columns[3])
        }
        return nil
    }

    /// Reads a file to its end with plain `read` calls: `/proc` tables report a size of 0 and come a page at a
    /// time, so a read sized from `stat` would miss most of the rows.
    private static func readAll(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `:1F90` for 8080, as the table writes ports.
    private static func hexPort(_ port: Int) -> String {
        let hex = String(port, radix: 16, uppercase: true)
        return ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
