import Yams

/// Typed readers for YAML scalars and lists. Each records an error at `path` and returns nil on a type mismatch
/// (HARDENING B10 #4: port `"8080s"` or `tls` as a list rejects the object, with the field's line).
extension DecodeContext {
    func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let s) = node else {
            self.error(path, "must be a string, not \(node.typeName)", line: node.line)
            return nil
        }
        return s.string
    }

    func int(_ node: Node, _ path: String) -> Int? {
        guard case .scalar(let s) = node, !node.isQuoted, let v = Int(s.string) else {
            self.error(path, "must be an integer, not \(self.describe(node))", line: node.line)
            return nil
        }
        return v
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        if case .scalar(let s) = node, !node.isQuoted {
            switch s.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        self.error(path, "must be true or false, not \(self.describe(node))", line: node.line)
        return nil
    }

    func double(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let s) = node, !node.isQuoted, let v = Double(s.string), v.isFinite else {
            self.error(path, "must be a number, not \(self.describe(node))", line: node.line)
            return nil
        }
        return v
    }

    /// Go duration syntax (§6); `1h30m`, `0.5s`.
    func duration(_ node: Node, _ path: String) -> Duration? {
        guard let text = self.string(node, path) else { return nil }
        guard let d = GoDuration.parse(text) else {
            self.error(path, "invalid duration \"\(text)\" (expected Go syntax such as 1.5s, 30ms, 1h30m)",
                       line: node.line)
            return nil
        }
        return d
    }

    func enumValue<E: RawRepresentable>(
        _ node: Node, _ path: String, _ type: E.Type, caseInsensitive: Bool, aliases: [String: E]
    ) -> E? where E.RawValue == String {
        guard let text = self.string(node, path) else { return nil }
        let key = caseInsensitive ? text.uppercased() : text
        if let alias = aliases[key] { return alias }
        if let value = E(rawValue: key) { return value }
        self.error(path, "invalid value \"\(text)\"", line: node.line)
        return nil
    }

    /// Elements of a YAML list with their paths (`path[i]`); a non-list is an error.
    func list(_ node: Node, _ path: String) -> [(node: Node, path: String)] {
        guard case .sequence(let seq) = node else {
            self.error(path, "must be a list, not \(node.typeName)", line: node.line)
            return []
        }
        var out: [(node: Node, path: String)] = []
        for (i, element) in seq.enumerated() {
            let p = "\(path)[\(i)]"
            guard self.visit(p, line: element.line) else { break }
            out.append((element, p))
        }
        return out
    }

    /// A `string → string` map (labels, selectors).
    func stringMap(_ node: Node, _ path: String) -> [String: String] {
        guard let fields = Fields(node, path: path, ctx: self) else { return [:] }
        var out: [String: String] = [:]
        for entry in fields.allEntries() {
            if entry.value.isNull {
                out[entry.key] = ""
            } else if let v = self.string(entry.value, entry.path) {
                out[entry.key] = v
            }
        }
        return out
    }

    /// `Percent` is `{value: double}` (§6).
    func percent(_ node: Node, _ path: String) -> Double? {
        guard let fields = Fields(node, path: path, ctx: self) else { return nil }
        defer { fields.finish() }
        return fields.double("value") ?? 0
    }

    private func describe(_ node: Node) -> String {
        guard case .scalar(let s) = node else { return node.typeName }
        let text = s.string.count > 40 ? String(s.string.prefix(40)) + "..." : s.string
        return node.isQuoted ? "the string \"\(text)\"" : "\"\(text)\""
    }
}
