import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `config/examples/bookinfo/backends.py` run as a child process: the example's fake services on their fixed
/// ports (19080-19085, as `services.yaml` lists them). `stop()` (also run on deinit) sends SIGTERM, then SIGKILL.
final class BookinfoBackends: @unchecked Sendable {
    let process = Process()
    private let outputFile: URL
    private let stderrPipe = Pipe()
    /// The ports `backends.py` binds, by "service-version".
    static let ports = [
        "productpage-v1": 19080, "details-v1": 19081, "ratings-v1": 19082, "reviews-v1": 19083, "reviews-v2": 19084,
        "reviews-v3": 19085,
    ]

    /// Runs the script as `__main__` after two adjustments for running under a test process:
    /// - a child inherits its parent thread's signal mask, and the Swift concurrency threads that run tests block
    ///   SIGTERM and SIGINT, so the script's own handlers would never run: unblock them;
    /// - the ports are fixed, so a copy orphaned by a crashed or killed test run would break every later run: exit
    ///   when the parent process goes away.
    private static var bootstrap: String { PythonPeer.bootstrap }

    static var script: String {
        GatewayProcess.packageRoot.appendingPathComponent("config/examples/bookinfo/backends.py").path
    }

    /// Starts the script and waits until it has printed one "listening" line per server (it prints them only
    /// after binding; it exits with a message when a port is taken).
    init(timeout: Duration = .seconds(20)) async throws {
        self.outputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-bookinfo-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: self.outputFile.path, contents: nil) else {
            throw TestFailure("cannot create \(self.outputFile.path)")
        }
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        self.process.arguments = ["python3", "-c", Self.bootstrap, Self.script, "--quiet"]
        self.process.standardOutput = try FileHandle(forWritingTo: self.outputFile)
        self.process.standardError = self.stderrPipe
        try self.process.run()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: self.outputFile, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "http://127.0.0.1:").count - 1 == Self.ports.count { return }
            guard self.process.isRunning else {
                let err = String(decoding: self.stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw TestFailure(
                    "backends.py exited (\(self.process.terminationStatus)): \(err) (its ports are fixed by "
                        + "config/examples/bookinfo/services.yaml: another copy may be running)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        self.stop()
        throw TestFailure("backends.py did not start its servers in time")
    }

    /// SIGTERM, wait up to 10 s for the exit (the script stops its servers one by one), then SIGKILL.
    func stop() {
        guard self.process.isRunning else { return }
        let pid = self.process.processIdentifier
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while self.process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if self.process.isRunning { kill(pid, SIGKILL) }
        self.process.waitUntilExit()
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(at: self.outputFile)
    }
}
