import Foundation
import Yams

/// Reads Kubernetes-style YAML/JSON into a validated `ConfigSet` (ISTIO-SEMANTICS §6, HARDENING B10).
///
/// Every problem in every file is reported with its file, line, object and field path. An object with an error
/// is left out of the result while the rest of the source still loads, so one bad object never takes the whole
/// configuration down.
public struct ConfigLoader: Sendable {
    public var defaultNamespace: String
    /// Files larger than this are rejected unread rather than parsed into memory.
    public static let maxFileBytes = 32 << 20

    public init(defaultNamespace: String = "default") {
        self.defaultNamespace = defaultNamespace
    }

    /// Files and directories (recursive; .yaml .yml .json; sorted by path for determinism), multi-document.
    public func load(paths: [String]) -> ConfigLoadResult {
        var state = LoadState()
        var seen: Set<String> = []
        for path in paths {
            for file in self.expand(path, into: &state) where seen.insert(file).inserted {
                state.files.append(file)
                self.loadFile(file, into: &state)
            }
        }
        return state.result
    }

    /// Inline YAML, for tests and other sources. `file` is used in diagnostics.
    public func load(yaml: String, file: String = "<inline>") -> ConfigLoadResult {
        var state = LoadState()
        self.loadText(yaml, file: file, into: &state)
        return state.result
    }

    /// The files a path names: itself, or every config file below a directory (hidden entries skipped, which also
    /// skips the `..data` links of a mounted ConfigMap that would otherwise load every file twice).
    private func expand(_ path: String, into state: inout LoadState) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            state.fileError(path, "no such file or directory")
            return []
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            state.fileError(path, "cannot list directory")
            return []
        }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let lower = relative.lowercased()
            guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower.hasSuffix(".json") else { continue }
            let full = path.hasSuffix("/") ? path + relative : path + "/" + relative
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
                files.append(full)
            }
        }
        return files.sorted()
    }

    private func loadFile(_ file: String, into state: inout LoadState) {
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        if size > Self.maxFileBytes {
            state.fileError(file, "file is \(size) bytes; the limit is \(Self.maxFileBytes)")
            return
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            state.fileError(file, "cannot read file")
            return
        }
        guard let text = String(data: data, encoding: .utf8) else {
            state.fileError(file, "file is not valid UTF-8")
            return
        }
        self.loadText(text, file: file, into: &state)
    }

    /// Every document of one file, in order; a syntax error ends the file after the documents before it.
    func loadText(_ text: String, file: String, into state: inout LoadState) {
        let start = state.diagnostics.count
        defer { state.sortDiagnostics(from: start) }
        var documents: YamlSequence<Node>
        do {
            documents = try Yams.compose_all(yaml: text)
        } catch {
            state.syntaxError(error, file: file)
            return
        }
        while let node = documents.next() {
            self.loadDocument(node, file: file, into: &state)
        }
        if let error = documents.error { state.syntaxError(error, file: file) }
    }
}

/// The result of one load.
public struct ConfigLoadResult: Sendable {
    public var config: ConfigSet
    /// Errors and warnings, in file/line order.
    public var diagnostics: [ConfigDiagnostic]
    /// Every file read (for the hot-reload watcher).
    public var files: [String]

    public init(config: ConfigSet = ConfigSet(), diagnostics: [ConfigDiagnostic] = [], files: [String] = []) {
        self.config = config
        self.diagnostics = diagnostics
        self.files = files
    }

    /// Diagnostics with severity `.error`.
    public var errors: [ConfigDiagnostic] { self.diagnostics.filter { $0.severity == .error } }
}

/// Accumulates one load's output.
struct LoadState {
    var config = ConfigSet()
    var diagnostics: [ConfigDiagnostic] = []
    var files: [String] = []

    var result: ConfigLoadResult {
        ConfigLoadResult(config: self.config, diagnostics: self.diagnostics, files: self.files)
    }

    mutating func fileError(_ file: String, _ message: String) {
        self.diagnostics.append(
            ConfigDiagnostic(file: file, line: 0, kind: "", namespace: "", name: "", fieldPath: "", message: message))
    }

    mutating func syntaxError(_ error: any Error, file: String) {
        let (line, message) = Self.describe(error)
        self.diagnostics.append(
            ConfigDiagnostic(
                file: file, line: line, kind: "", namespace: "", name: "", fieldPath: "",
                message: "YAML syntax error: \(message)"))
    }

    /// Keeps one file's diagnostics in line order; objects validate after decoding, so they can arrive late.
    mutating func sortDiagnostics(from start: Int) {
        let sorted = self.diagnostics[start...].enumerated().sorted {
            ($0.element.line, $0.offset) < ($1.element.line, $1.offset)
        }.map(\.element)
        self.diagnostics.replaceSubrange(start..., with: sorted)
    }

    private static func describe(_ error: any Error) -> (Int, String) {
        guard let yaml = error as? YamlError else { return (0, "\(error)") }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let text = context.map { "\(problem) (\($0.text) at line \($0.mark.line))" } ?? problem
            return (mark.line, text)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return (context.mark.line, "duplicate keys \(duplicates.joined(separator: ", ")) in a mapping")
        case .reader(let problem, let offset, _, let text):
            guard let offset else { return (0, problem) }
            let line = 1 + text.prefix(offset).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
            return (line, problem)
        default:
            return (0, "\(yaml)")
        }
    }
}
