import Yams

/// One YAML mapping being decoded: looks fields up by JSON name or proto snake_case alias (§6), records their
/// lines, and reports the keys nobody asked for.
final class Fields {
    let ctx: DecodeContext
    let path: String
    let line: Int
    private let entries: [(key: String, line: Int, value: Node)]
    private var used: [Bool]

    /// nil, with an error at `path`, when `node` is not a mapping.
    init?(_ node: Node, path: String, ctx: DecodeContext) {
        guard case .mapping(let mapping) = node else {
            ctx.error(path, "must be a map, not \(node.typeName)", line: node.line)
            return nil
        }
        self.ctx = ctx
        self.path = path
        self.line = node.line
        var entries: [(key: String, line: Int, value: Node)] = []
        for (key, value) in mapping {
            entries.append((key.string ?? "", key.line, value))
        }
        self.entries = entries
        self.used = Array(repeating: false, count: entries.count)
    }

    /// The path of a child field.
    func child(_ name: String) -> String { self.path.isEmpty ? name : "\(self.path).\(name)" }

    /// The value of `name` (JSON name, or its snake_case alias); nil when absent or null. Marks it as consumed.
    func take(_ name: String) -> Node? {
        let folded = name.lowercased()
        var found: Node?
        for (i, entry) in self.entries.enumerated() {
            let matches = entry.key == name
                || (entry.key.contains("_") && entry.key.replacing("_", with: "").lowercased() == folded)
            guard matches else { continue }
            self.used[i] = true
            if found != nil {
                self.ctx.error(self.child(name), "field is set twice (\"\(entry.key)\")", line: entry.line)
                continue
            }
            guard self.ctx.visit(self.child(name), line: entry.line) else { return nil }
            found = entry.value
        }
        if let node = found, node.isNull { return nil }
        return found
    }

    /// Like `take`, but a missing field is an error at the map's line.
    func require(_ name: String) -> Node? {
        if let node = self.take(name) { return node }
        self.ctx.error(self.child(name), "missing required field \"\(name)\"", line: self.line)
        return nil
    }

    /// Warns about keys that no decoder consumed; `known` lists Istio fields we accept but do not implement.
    func finish(known: Set<String> = []) {
        for (i, entry) in self.entries.enumerated() where !self.used[i] {
            if known.contains(entry.key) { continue }
            self.ctx.warning(
                self.child(entry.key), "unknown field \"\(entry.key)\" ignored", line: entry.line)
        }
    }

    /// Every key and value in order, for free-form maps (labels, headers, ports).
    func allEntries() -> [(key: String, path: String, value: Node)] {
        self.entries.indices.compactMap { i in
            self.used[i] = true
            let entry = self.entries[i]
            let path = self.child(entry.key)
            guard self.ctx.visit(path, line: entry.line) else { return nil }
            return (entry.key, path, entry.value)
        }
    }

    func string(_ name: String) -> String? { self.take(name).flatMap { self.ctx.string($0, self.child(name)) } }
    func int(_ name: String) -> Int? { self.take(name).flatMap { self.ctx.int($0, self.child(name)) } }
    func bool(_ name: String) -> Bool? { self.take(name).flatMap { self.ctx.bool($0, self.child(name)) } }
    func double(_ name: String) -> Double? { self.take(name).flatMap { self.ctx.double($0, self.child(name)) } }
    func duration(_ name: String) -> Duration? {
        self.take(name).flatMap { self.ctx.duration($0, self.child(name)) }
    }
    func strings(_ name: String) -> [String] {
        guard let node = self.take(name) else { return [] }
        return self.ctx.list(node, self.child(name)).compactMap { self.ctx.string($0.node, $0.path) }
    }
    func stringMap(_ name: String) -> [String: String] {
        guard let node = self.take(name) else { return [:] }
        return self.ctx.stringMap(node, self.child(name))
    }

    /// An upper-case enum; `aliases` maps deprecated names, `caseInsensitive` is for port protocols (§1.2).
    func enumValue<E: RawRepresentable>(
        _ name: String, _ type: E.Type, caseInsensitive: Bool = false, aliases: [String: E] = [:]
    ) -> E? where E.RawValue == String {
        guard let node = self.take(name) else { return nil }
        return self.ctx.enumValue(node, self.child(name), type, caseInsensitive: caseInsensitive, aliases: aliases)
    }

    /// A nested message.
    func object<T>(_ name: String, _ decode: (Fields) -> T?) -> T? {
        guard let node = self.take(name), let fields = Fields(node, path: self.child(name), ctx: self.ctx) else {
            return nil
        }
        return decode(fields)
    }

    /// A repeated nested message; elements that fail to decode are dropped (their errors are recorded).
    func objects<T>(_ name: String, _ decode: (Fields) -> T?) -> [T] {
        guard let node = self.take(name) else { return [] }
        return self.ctx.list(node, self.child(name)).compactMap { element in
            Fields(element.node, path: element.path, ctx: self.ctx).flatMap(decode)
        }
    }
}
