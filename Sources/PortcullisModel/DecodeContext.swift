import Yams

/// Collects the diagnostics and field lines of one Kubernetes object while it is decoded and validated (§6).
///
/// Decoding never stops at the first problem: every reader records an error with the offending field's path and
/// line and returns nil, so the caller can carry on and report every problem of the object. An object with any
/// error is left out of the `ConfigSet` (HARDENING B10 #4: reject that object, never the whole source).
final class DecodeContext {
    let file: String
    var kind: String
    var namespace: String
    var name: String
    /// Line of the object's document, used when nothing better is known.
    var objectLine: Int
    private(set) var diagnostics: [ConfigDiagnostic] = []
    private(set) var errorCount = 0
    var fieldLines: [String: Int] = [:]
    /// Paths that already carry an error; a later check on the same path (or below it) would only repeat it.
    private var errorPaths: Set<String> = []
    /// Nodes we may still visit; YAML aliases can make a small document expand into a huge tree.
    private var budget: Int
    private var budgetReported = false

    init(file: String, kind: String, namespace: String, name: String, objectLine: Int, budget: Int = 100_000) {
        self.file = file
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.objectLine = objectLine
        self.budget = budget
    }

    /// Records `path` as seen at the node's line; returns false once the visit budget is exhausted.
    @discardableResult
    func visit(_ path: String, line: Int) -> Bool {
        self.budget -= 1
        if self.budget < 0 {
            if !self.budgetReported {
                self.budgetReported = true
                self.error(path, "object is too large (more than \(100_000) YAML nodes after alias expansion)")
            }
            return false
        }
        if self.fieldLines[path] == nil { self.fieldLines[path] = line }
        return true
    }

    /// The line of `path` or its nearest recorded parent.
    func line(of path: String) -> Int {
        var p = Substring(path)
        while !p.isEmpty {
            if let l = self.fieldLines[String(p)] { return l }
            if let i = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = p[..<i] } else { break }
        }
        return self.objectLine
    }

    func error(_ path: String, _ message: String, line: Int? = nil) {
        if self.hasError(at: path) { return }
        self.errorPaths.insert(path)
        self.errorCount += 1
        self.add(.error, path, message, line: line)
    }

    func warning(_ path: String, _ message: String, line: Int? = nil) {
        self.add(.warning, path, message, line: line)
    }

    /// Whether `path` or one of its parents already has an error.
    func hasError(at path: String) -> Bool {
        var p = Substring(path)
        while !p.isEmpty {
            if self.errorPaths.contains(String(p)) { return true }
            if let i = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = p[..<i] } else { break }
        }
        return false
    }

    /// Whether any error was recorded at `prefix` or below it.
    func hasError(under prefix: String) -> Bool {
        self.errorPaths.contains { $0 == prefix || $0.hasPrefix(prefix + ".") || $0.hasPrefix(prefix + "[") }
    }

    private func add(_ severity: ConfigDiagnostic.Severity, _ path: String, _ message: String, line: Int?) {
        self.diagnostics.append(
            ConfigDiagnostic(
                severity: severity, file: self.file, line: line ?? self.line(of: path), kind: self.kind,
                namespace: self.namespace, name: self.name, fieldPath: path, message: message))
    }

    /// The metadata of the object being decoded, with every field line seen so far.
    func meta(creationTimestamp: String?, labels: [String: String], annotations: [String: String]) -> ObjectMeta {
        ObjectMeta(
            name: self.name, namespace: self.namespace, creationTimestamp: creationTimestamp, labels: labels,
            annotations: annotations, position: SourcePosition(file: self.file, line: self.objectLine),
            fieldLines: self.fieldLines)
    }
}

extension Node {
    /// 1-based line of the node, 0 when Yams has no mark.
    var line: Int { self.mark?.line ?? 0 }

    /// YAML null: `~`, `null`, or nothing after the key (plain style only; `""` is an empty string).
    var isNull: Bool {
        guard case .scalar(let s) = self, s.style == .plain || s.style == .any else { return false }
        return s.string.isEmpty || s.string == "~" || s.string == "null" || s.string == "Null" || s.string == "NULL"
    }

    /// Whether the scalar was written in quotes, i.e. is a string whatever it looks like.
    var isQuoted: Bool {
        guard case .scalar(let s) = self else { return false }
        return s.style == .singleQuoted || s.style == .doubleQuoted
    }

    var typeName: String {
        switch self {
        case .scalar: "a scalar"
        case .mapping: "a map"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
