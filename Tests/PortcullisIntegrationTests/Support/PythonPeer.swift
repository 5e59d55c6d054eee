import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Python test server from `Tests/Fixtures` run as a child process (the HTTP/2 origin, the gRPC server). It
/// prints `listening PORT` (or a JSON line with `xds_port`) once bound to 127.0.0.1 port 0; `stop()` (also on deinit) kills it. Like
/// `BookinfoBackends`, the child unblocks SIGTERM (test threads block it) and exits when the test process goes.
final class PythonPeer: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let outputFile: URL
    private let errorFile: URL

    /// Runs a script as `__main__` with SIGTERM/SIGINT unblocked and an exit when the parent process goes.
    static let bootstrap = """
        import os, runpy, signal, sys, threading, time
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
        parent = os.getppid()
        def watch_parent():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)
        threading.Thread(target=watch_parent, daemon=True).start()
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        """

    /// The path of a fixture script.
    static func fixture(_ name: String) -> String {
        GatewayProcess.packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    /// Whether the Python modules a fixture needs are importable (`make test` installs them).
    static func hasModules(_ modules: [String]) -> Bool {
        let check = "import " + modules.joined(separator: ", ")
        return (try? Command.run("/usr/bin/env", ["python3", "-c", check]).0) == 0
    }

    init(script: String, arguments: [String] = [], timeout: Duration = .seconds(20)) async throws {
        let id = UUID().uuidString
        let temporary = FileManager.default.temporaryDirectory
        self.outputFile = temporary.appendingPathComponent("portcullis-peer-\(id).out")
        self.errorFile = temporary.appendingPathComponent("portcullis-peer-\(id).err")
        for file in [self.outputFile, self.errorFile] {
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw TestFailure("cannot create \(file.path)")
            }
        }
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        self.process.arguments = ["python3", "-u", "-c", Self.bootstrap, Self.fixture(script)] + arguments
        self.process.standardOutput = try FileHandle(forWritingTo: self.outputFile)
        self.process.standardError = try FileHandle(forWritingTo: self.errorFile)
        try self.process.run()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: self.outputFile, encoding: .utf8)) ?? ""
            if let port = text.split(separator: "\n").lazy.compactMap(Self.port(announcedBy:)).first {
                self.port = port
                return
            }
            guard self.process.isRunning else {
                let err = (try? String(contentsOf: self.errorFile, encoding: .utf8)) ?? ""
                throw TestFailure("\(script) exited (\(self.process.terminationStatus)): \(err)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Self.kill(self.process)
        throw TestFailure("\(script) did not start listening in time")
    }

    /// The port from a peer's first line: `listening PORT`, or a JSON object whose `xds_port` is the port.
    static func port(announcedBy line: Substring) -> Int? {
        if line.hasPrefix("listening ") { return Int(line.dropFirst("listening ".count)) }
        guard line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)),
            let fields = object as? [String: Any]
        else { return nil }
        return fields["xds_port"] as? Int
    }

    /// What the peer wrote to stdout so far (the `listening` line, then whatever the script reports).
    var output: String { (try? String(contentsOf: self.outputFile, encoding: .utf8)) ?? "" }

    /// What the peer wrote to stderr so far (for failure messages).
    var errors: String { (try? String(contentsOf: self.errorFile, encoding: .utf8)) ?? "" }

    func stop() {
        Self.kill(self.process)
    }

    private static func kill(_ process: Process) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(at: self.outputFile)
        try? FileManager.default.removeItem(at: self.errorFile)
    }
}
