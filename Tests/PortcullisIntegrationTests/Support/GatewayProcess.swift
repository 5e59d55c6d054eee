import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The real `portcullis` binary run as a child process on a temporary config directory.
///
/// The binary comes from `PORTCULLIS_BINARY` or the package's `.build/debug/portcullis` (`make test` builds it).
/// Readiness is awaited by polling the admin `/ready` endpoint, which is the gateway's own signal.
final class GatewayProcess: @unchecked Sendable {
    let process = Process()
    let configDirectory: URL
    let adminPort: Int
    let accessLogPath: String
    /// The gateway's stderr goes to a file (a pipe nobody reads would fill and block the gateway's logging).
    let stderrPath: String

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["PORTCULLIS_BINARY"] { return path }
        return self.packageRoot.appendingPathComponent(".build/debug/portcullis").path
    }

    /// Writes `files` (name → YAML) into a new temp dir and starts the gateway on it.
    convenience init(files: [String: String], extraArguments: [String] = [], drainSeconds: Int = 5) throws {
        try self.init(files: files, source: nil, extraArguments: extraArguments, drainSeconds: drainSeconds)
    }

    /// Starts the gateway on a Kubernetes API server (`--kubeconfig PATH`); the temp dir holds only the access log.
    convenience init(kubeconfig: String, extraArguments: [String] = [], drainSeconds: Int = 5) throws {
        try self.init(
            files: [:], source: ["--kubeconfig", kubeconfig], extraArguments: extraArguments,
            drainSeconds: drainSeconds)
    }

    /// Starts the gateway with other source arguments (e.g. `--kubernetes`) and extra environment variables.
    convenience init(source: [String], extraArguments: [String] = [], environment: [String: String]) throws {
        try self.init(
            files: [:], source: source, extraArguments: extraArguments, drainSeconds: 5, environment: environment)
    }

    /// `source` replaces `--config DIR` when given.
    private init(
        files: [String: String], source: [String]?, extraArguments: [String], drainSeconds: Int,
        environment: [String: String] = [:]
    ) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-test-\(UUID().uuidString)")
        self.configDirectory = directory
        self.adminPort = try FreePort.allocate()
        // The access log lives outside the watched directory's config extensions (.yaml/.yml/.json).
        self.accessLogPath = directory.appendingPathComponent("access.log").path
        self.stderrPath = directory.appendingPathComponent("stderr.log").path
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: self.stderrPath, contents: nil)
        for (name, content) in files { try self.write(name, content) }
        self.process.executableURL = URL(fileURLWithPath: Self.binary)
        self.process.arguments = ["run"] + (source ?? ["--config", self.configDirectory.path]) + [
            "--admin", "127.0.0.1:\(self.adminPort)",
            "--listen-address", "127.0.0.1", "--concurrency", "2", "--access-log", self.accessLogPath,
            "--drain-seconds", String(drainSeconds), "--log-level", "info",
        ] + extraArguments
        self.process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stderrPath))
        self.process.standardOutput = FileHandle.nullDevice
        if !environment.isEmpty {
            self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try self.process.run()
    }

    func write(_ name: String, _ content: String) throws {
        let url = self.configDirectory.appendingPathComponent(name)
        // Write then rename, as a config management tool would, so the watcher never sees half a file.
        let temp = self.configDirectory.appendingPathComponent(".\(name).tmp")
        try content.write(to: temp, atomically: false, encoding: .utf8)
        _ = rename(temp.path, url.path)
    }

    /// Polls `/ready` until it answers 200 (or the process dies / the deadline passes).
    func waitUntilReady(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard self.process.isRunning else { throw TestFailure("gateway exited: \(self.stderrText())") }
            if let (status, _) = try? await HTTP.get(port: self.adminPort, path: "/ready"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("gateway not ready in time: \(self.stderrText())")
    }

    /// Polls the admin config dump until `predicate` holds (e.g. a reload was applied).
    func waitForConfig(timeout: Duration = .seconds(20), _ predicate: (String) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let (_, body) = try? await HTTP.get(port: self.adminPort, path: "/config_dump"), predicate(body) {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("config condition not met in time")
    }

    func metrics() async throws -> String {
        try await HTTP.get(port: self.adminPort, path: "/stats/prometheus").1
    }

    func terminate() {
        if self.process.isRunning { kill(self.process.processIdentifier, SIGTERM) }
    }

    /// SIGTERM and wait for the exit status.
    func stop() -> Int32 {
        self.terminate()
        self.process.waitUntilExit()
        return self.process.terminationStatus
    }

    /// Everything the process wrote to stderr so far (its logs), also while it runs.
    func stderrText() -> String {
        (try? String(contentsOfFile: self.stderrPath, encoding: .utf8)) ?? ""
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: self.configDirectory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A free loopback port for a gateway listener. Ports come from below the kernel's ephemeral range, so they never
/// collide with the port-0 binds of test backends (which the kernel takes from the ephemeral range); candidates
/// are checked by binding them.
enum FreePort {
    /// Ports already handed out in this process: tests run in parallel, and two of them must never get the same
    /// port between the check and the gateway's own bind.
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    static func allocate() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20_000..<32_000)
            let fresh = Self.handedOut.withLockedValue { $0.insert(candidate).inserted }
            if fresh && Self.bindable(candidate) { return candidate }
        }
        throw TestFailure("no free port below the ephemeral range")
    }

    private static func bindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        } == 0
    }

    /// A port the kernel picks (ephemeral range); only for "nothing listens here" endpoints.
    static func ephemeral() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw TestFailure("bind failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
