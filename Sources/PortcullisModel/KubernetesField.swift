/// One field of a Kubernetes object read straight from the API server's JSON (Services, EndpointSlices, Pods),
/// with its path, so a value of the wrong type is reported as `KIND NAMESPACE/NAME: FIELD.PATH: message`.
///
/// An absent field and JSON `null` both read as absent: the trimmed objects the control plane stores keep some
/// fields as `null`. A present value of the wrong type throws a ``ConfigDiagnostic`` (severity warning: the
/// object is skipped, the configuration is not rejected).
struct KubernetesField {
    /// The value, or nil when absent.
    let value: KubernetesJSON?
    /// e.g. `spec.ports[0].port`; empty for the object itself.
    let path: String
    let kind: String
    let file: String
    let namespace: String
    let name: String

    /// The whole object `json` of `kind`, from `file` (the source's name in diagnostics).
    init(object json: KubernetesJSON, kind: String, file: String) {
        self.init(value: json, path: "", kind: kind, file: file, namespace: json.namespace, name: json.name)
    }

    private init(value: KubernetesJSON?, path: String, kind: String, file: String, namespace: String, name: String) {
        self.value = value == .null ? nil : value
        self.path = path
        self.kind = kind
        self.file = file
        self.namespace = namespace
        self.name = name
    }

    private func child(_ value: KubernetesJSON?, path: String) -> KubernetesField {
        KubernetesField(
            value: value, path: path, kind: self.kind, file: self.file, namespace: self.namespace, name: self.name)
    }

    /// The member `key`; throws when this field is present but not an object.
    subscript(key: String) -> KubernetesField {
        get throws {
            guard let value = self.value else { return self.child(nil, path: self.join(key)) }
            guard let members = value.objectValue else { throw self.mismatch("an object") }
            return self.child(members[key], path: self.join(key))
        }
    }

    /// The string, or nil when absent.
    func string() throws -> String? {
        guard let value = self.value else { return nil }
        guard let text = value.stringValue else { throw self.mismatch("a string") }
        return text
    }

    /// The integer (also an integral number written as a double), or nil when absent.
    func int() throws -> Int? {
        guard let value = self.value else { return nil }
        guard let number = value.intValue else { throw self.mismatch("an integer") }
        return number
    }

    /// The boolean, or nil when absent.
    func bool() throws -> Bool? {
        switch self.value {
        case nil: return nil
        case .bool(let flag): return flag
        default: throw self.mismatch("a boolean")
        }
    }

    /// An `IntOrString` such as `targetPort`: the number, or nil for a name (or when absent).
    func intOrName() throws -> Int? {
        if self.value?.stringValue != nil { return nil }
        return try self.int()
    }

    /// The elements of an array, each with its index in the path; empty when absent.
    func elements() throws -> [KubernetesField] {
        guard let value = self.value else { return [] }
        guard let elements = value.arrayValue else { throw self.mismatch("an array") }
        return elements.enumerated().map { self.child($1, path: "\(self.path)[\($0)]") }
    }

    /// A `map[string]string` (labels, annotations); empty when absent.
    func stringMap() throws -> [String: String] {
        guard let value = self.value else { return [:] }
        guard let members = value.objectValue else { throw self.mismatch("an object of strings") }
        var result: [String: String] = [:]
        for (key, member) in members {
            guard let text = member.stringValue else {
                throw self.child(member, path: self.join(key)).mismatch("a string")
            }
            result[key] = text
        }
        return result
    }

    /// A problem with this field.
    func problem(_ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(
            severity: .warning, file: self.file, line: 0, kind: self.kind, namespace: self.namespace, name: self.name,
            fieldPath: self.path, message: message)
    }

    private func mismatch(_ expected: String) -> ConfigDiagnostic {
        self.problem("expected \(expected), found \(self.value?.typeName ?? "nothing"); \(self.kind) skipped")
    }

    private func join(_ key: String) -> String { self.path.isEmpty ? key : self.path + "." + key }
}

extension KubernetesJSON {
    /// The JSON type, for diagnostics.
    fileprivate var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
