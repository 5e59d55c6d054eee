import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real kube-apiserver + etcd on loopback, from `../shared/tools/kube-test-cluster.sh` (or
/// `KUBE_TEST_CLUSTER_SCRIPT`): a new, empty cluster per `start`, with an admin bearer token and its own CA.
///
/// The tests that use it are skipped, with the reason printed, only when the script is missing or cannot provide
/// the binaries, or when `PORTCULLIS_SKIP_KUBE=1`.
final class KubeTestCluster: @unchecked Sendable {
    let directory: String
    let server: String
    let token: String
    let caFile: String
    let kubeconfig: String

    static var script: String {
        if let path = ProcessInfo.processInfo.environment["KUBE_TEST_CLUSTER_SCRIPT"], !path.isEmpty { return path }
        return GatewayProcess.packageRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/tools/kube-test-cluster.sh").path
    }

    /// nil when the tests can run; otherwise why they are skipped. Building the binaries when they are missing is
    /// the script's `build` (a no-op once cached; `.ci/run` runs it before the tests).
    static let unavailableReason: String? = {
        if ProcessInfo.processInfo.environment["PORTCULLIS_SKIP_KUBE"] == "1" {
            return "PORTCULLIS_SKIP_KUBE=1"
        }
        guard FileManager.default.isExecutableFile(atPath: script) else {
            return "no kube-test-cluster.sh at \(script) (set KUBE_TEST_CLUSTER_SCRIPT)"
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kube-test-build-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        guard KubeTestCluster.spawn([script, "build"], log: log) == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return "kube-test-cluster.sh build could not provide etcd and kube-apiserver: \(text.suffix(2000))"
        }
        return nil
    }()

    static var available: Bool {
        if let reason = unavailableReason {
            print("skipping the Kubernetes API integration tests: \(reason)")
            return false
        }
        return true
    }

    /// Runs the script with stdout and stderr appended to `log` and waits for it with `waitpid`; returns its exit
    /// status (-1 when it could not run). Not `Process`: the script leaves etcd and kube-apiserver running with
    /// its output files, and Foundation's `waitUntilExit` was seen to hang on it (the child stayed a zombie).
    static func spawn(_ arguments: [String], log: String) -> Int32 {
        self.shell(#"exec /bin/bash "$@""#, arguments, log: log)
    }

    /// Runs `script` in bash with `arguments` as `$1...`, after closing every inherited descriptor above 2: tests
    /// run in parallel, and a pipe of another test's child (curl, openssl) inherited here would stay open in etcd
    /// and kube-apiserver for their lifetime, so that pipe's reader would never see its end.
    static func shell(_ script: String, _ arguments: [String], log: String) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let closeInherited = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null; fi; done; "#
        let argv = (["/bin/bash", "-c", closeInherited + script, "spawn"] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return -1 }
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    private init(directory: String) throws {
        self.directory = directory
        func read(_ name: String) throws -> String {
            try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        self.server = try read("server-url")
        self.token = try read("admin-token")
        self.caFile = directory + "/ca.crt"
        self.kubeconfig = directory + "/kubeconfig"
    }

    /// Starts a fresh cluster in a new temp directory.
    static func start() throws -> KubeTestCluster {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-kube-\(UUID().uuidString.prefix(8))").path
        let log = directory + ".log"
        guard Self.spawn([self.script, "start", directory], log: log) == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("kube-test-cluster.sh start failed: \(text)")
        }
        return try KubeTestCluster(directory: directory)
    }

    /// Stops etcd and the API server (the script stops exactly the processes recorded in the directory).
    func stop() {
        _ = Self.spawn([Self.script, "stop", self.directory], log: self.directory + ".log")
        try? FileManager.default.removeItem(atPath: self.directory)
        try? FileManager.default.removeItem(atPath: self.directory + ".log")
    }

    // MARK: - REST

    /// One API request with `token` (default: the admin's); the body is YAML or JSON. Returns status and body.
    @discardableResult
    func request(
        _ method: String, _ path: String, body: String? = nil, token: String? = nil,
        contentType: String = "application/yaml"
    ) throws -> (status: Int, body: String) {
        var arguments = [
            "-s", "--max-time", "20", "--cacert", self.caFile, "-H", "Authorization: Bearer \(token ?? self.token)",
            "-H", "Content-Type: \(contentType)", "-X", method, "-w", "\n%{http_code}", self.server + path,
        ]
        if body != nil { arguments += ["--data-binary", "@-"] }
        let (_, out, _) = try Command.run("/usr/bin/curl", arguments, stdin: body.map { Data($0.utf8) })
        guard let newline = out.lastIndex(of: "\n"), let status = Int(out[out.index(after: newline)...]) else {
            return (0, out)
        }
        return (status, String(out[..<newline]))
    }

    /// Creates an object (`POST` to its collection); fails unless the server answers 201.
    func create(_ collection: String, _ yaml: String) throws {
        let (status, body) = try self.request("POST", collection, body: yaml)
        guard status == 201 else { throw TestFailure("POST \(collection): \(status) \(body)") }
    }

    /// Changes an object with a JSON merge patch (arrays are replaced whole); fails unless the server answers 200.
    func patch(_ objectPath: String, _ json: String) throws {
        let (status, body) = try self.request(
            "PATCH", objectPath, body: json, contentType: "application/merge-patch+json")
        guard status == 200 else { throw TestFailure("PATCH \(objectPath): \(status) \(body)") }
    }

    func delete(_ objectPath: String) throws {
        let (status, body) = try self.request("DELETE", objectPath)
        guard status == 200 || status == 202 else { throw TestFailure("DELETE \(objectPath): \(status) \(body)") }
    }

    /// Creates every document of a manifest file whose kind maps to a known collection.
    func apply(manifest path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for document in text.components(separatedBy: "\n---\n") {
            guard document.contains("kind: CustomResourceDefinition") else { continue }
            try self.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", document)
        }
    }

    /// Waits (bounded) until a collection answers 200, e.g. a CRD's collection once it is established.
    func waitForCollection(_ path: String, token: String? = nil, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try self.request("GET", path, token: token).status == 200 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("\(path) not served in time")
    }

    /// A new namespace named `prefix-<random>` (namespaces cannot be deleted on this server: no controllers).
    func freshNamespace(_ prefix: String) throws -> String {
        let name = "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())"
        try self.create("/api/v1/namespaces", "{apiVersion: v1, kind: Namespace, metadata: {name: \(name)}}")
        return name
    }

    // MARK: - API server restart

    /// Kills the API server (etcd keeps the data) and starts it again with the same command line, so state,
    /// resource versions and credentials survive, as a real control-plane restart. The new process is recorded in
    /// the directory, so `stop` ends it.
    func stopAPIServer() throws -> [String] {
        let pidFile = self.directory + "/kube-apiserver.pid"
        let pidText = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = Int32(pidText) else { throw TestFailure("no API server pid") }
        let cmdline = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(30)
        while kill(pid, 0) == 0, ContinuousClock.now < deadline { usleep(100_000) }
        return arguments
    }

    /// Starts the API server with `arguments` (from `stopAPIServer`) and waits for `/readyz`.
    func startAPIServer(_ arguments: [String]) async throws {
        let log = self.directory + "/kube-apiserver-restarted.log"
        let pidFile = self.directory + "/kube-apiserver.pid"
        let status = Self.shell(#"pidfile=$1; shift; "$@" & echo $! > "$pidfile""#, [pidFile] + arguments, log: log)
        guard status == 0 else { throw TestFailure("cannot start the API server again") }
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let (status, body) = try? self.request("GET", "/readyz"), status == 200, body.contains("ok") { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw TestFailure("restarted API server not ready")
    }
}
