import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// curl over TLS, the real client: SNI comes from the URL's host, which `--resolve` points at 127.0.0.1.
/// The verbose log (`-v`, sent to a file with `--stderr`) says which certificate and protocol were negotiated.
struct TLSCurlResult {
    var response: CurlResult
    /// curl's `-v` trace and its error message (`-S`).
    var verbose: String

    var exitCode: Int32 { self.response.exitCode }
    var status: Int { self.response.status }
    var body: String { self.response.body }
    func header(_ name: String) -> String? { self.response.header(name) }

    /// The server certificate's subject as curl prints it, e.g. `O=Portcullis Tests; CN=a-server`.
    var serverSubject: String? {
        self.verbose.split(separator: "\n").first { $0.contains("*  subject: ") }
            .map { String($0[$0.range(of: "subject: ")!.upperBound...]).trimmingCharacters(in: .whitespaces) }
    }

    /// The negotiated protocol from curl's `SSL connection using TLSv1.3 / ...` line.
    var tlsVersion: String? {
        guard let line = self.verbose.split(separator: "\n").first(where: { $0.contains("SSL connection using ") })
        else { return nil }
        let rest = line[line.range(of: "SSL connection using ")!.upperBound...]
        return rest.split(separator: " ").first.map(String.init)
    }
}

enum TLSCurl {
    /// `curl -v --resolve host:port:127.0.0.1 [--cacert ca] extra https://host:port/path`.
    static func get(
        host: String, port: Int, path: String = "/", caFile: String?, _ extra: [String] = []
    ) throws -> TLSCurlResult {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var arguments = ["-v", "--stderr", log, "--resolve", "\(host):\(port):127.0.0.1"]
        if let caFile { arguments += ["--cacert", caFile] }
        arguments += extra + ["https://\(host):\(port)\(path)"]
        let response = try Curl.request(arguments)
        let verbose = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return TLSCurlResult(response: response, verbose: verbose)
    }
}

/// `openssl s_client -brief`: handshake summary on stderr ("CONNECTION ESTABLISHED", "Protocol version: ...",
/// "Peer certificate: ..."), application data on stdout.
struct OpenSSLClientResult {
    var exitCode: Int32
    var stdout: String
    var stderr: String

    var handshakeSucceeded: Bool { self.stderr.contains("CONNECTION ESTABLISHED") }

    /// `Protocol version: TLSv1.3` → `TLSv1.3`.
    var protocolVersion: String? { self.field("Protocol version: ") }

    /// `Peer certificate: O = Portcullis Tests, CN = a-server`.
    var peerCertificate: String? { self.field("Peer certificate: ") }

    private func field(_ prefix: String) -> String? {
        self.stderr.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
    }
}

enum OpenSSLClient {
    /// Connects to 127.0.0.1:`port` with SNI `serverName` (none when empty), verifying against `caFile` when given, writes `send`
    /// (then waits for the server to close, `-ign_eof`, when `send` is not empty) and returns what happened.
    static func connect(
        port: Int, serverName: String, caFile: String?, arguments: [String] = [], send: String = "",
        timeoutSeconds: Int = 20
    ) throws -> OpenSSLClientResult {
        var all = ["s_client", "-connect", "127.0.0.1:\(port)", "-brief"]
        if !serverName.isEmpty { all += ["-servername", serverName] }
        if let caFile { all += ["-CAfile", caFile, "-verify_return_error"] }
        if !send.isEmpty { all.append("-ign_eof") }
        all += arguments
        let (code, out, err) = try TimedCommand.run(
            "/usr/bin/openssl", all, stdin: Data(send.utf8), timeoutSeconds: timeoutSeconds)
        return OpenSSLClientResult(exitCode: code, stdout: out, stderr: err)
    }
}

/// `Command.run` with a deadline: a client that hangs is killed (SIGKILL) instead of hanging the suite.
enum TimedCommand {
    static func run(_ executable: String, _ arguments: [String], stdin: Data, timeoutSeconds: Int) throws
        -> (Int32, String, String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeoutSeconds), execute: killer)
        input.fileHandleForWriting.write(stdin)
        try? input.fileHandleForWriting.close()
        // stderr is read on another thread so neither pipe can fill up and block the child.
        let errData = TLSTestLockedBox<Data>()
        let errDone = DispatchSemaphore(value: 0)
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async {
            errData.value = errHandle.readDataToEndOfFile()
            errDone.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        killer.cancel()
        return (
            process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData.value, as: UTF8.self)
        )
    }
}

/// A value handed from one thread to another, with the hand-over ordered by a semaphore.
final class TLSTestLockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?

    var value: Value {
        get { self.lock.withLock { self.stored! } }
        set { self.lock.withLock { self.stored = newValue } }
    }
}

/// `openssl s_server -www` on 127.0.0.1 as a TLS backend with its own certificate (the passthrough target).
/// It answers every request with an HTML page that starts `<HTML><BODY` and names `s_server`.
/// `stop()` (or deinit) kills it; tests call `stop()` in a `defer`.
final class OpenSSLServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let logPath: String

    init(identity: TestCertificates.Identity, extraArguments: [String] = []) throws {
        self.port = try FreePort.allocate()
        self.logPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("s_server-\(UUID().uuidString).log").path
        guard FileManager.default.createFile(atPath: self.logPath, contents: nil) else {
            throw TestFailure("cannot create \(self.logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: self.logPath))
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        self.process.arguments = [
            "s_server", "-accept", "127.0.0.1:\(self.port)", "-cert", identity.certificatePath, "-key",
            identity.keyPath, "-www",
        ] + extraArguments
        self.process.standardOutput = log
        self.process.standardError = log
        // A pipe that stays open: s_server must not see end-of-file on stdin.
        self.process.standardInput = Pipe()
        try self.process.run()
        try? log.close()
    }

    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// s_server prints `ACCEPT` once it listens.
    func waitUntilAccepting(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard self.process.isRunning else { throw TestFailure("s_server exited: \(self.log)") }
            if self.log.contains("ACCEPT") { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("s_server not accepting in time: \(self.log)")
    }

    func stop() {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.logPath)
    }
}
