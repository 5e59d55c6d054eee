import Foundation

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
