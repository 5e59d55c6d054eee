import Foundation

/// A JSON value as the Kubernetes API server sends it: objects are kept whole (unknown fields included) so they
/// can be handed to the config loader unchanged and compared for equality across relists. The schemas of the
/// kinds read directly (Services, EndpointSlices, Pods) decode from it here; the control plane's reflectors
/// store it.
public enum KubernetesJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([KubernetesJSON])
    case object([String: KubernetesJSON])

    /// Parses one JSON text.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> KubernetesJSON {
        try JSONDecoder().decode(KubernetesJSON.self, from: Data(bytes))
    }

    /// Parses one JSON text.
    public static func parse(_ text: String) throws -> KubernetesJSON {
        try self.parse(Array(text.utf8))
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> KubernetesJSON? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The string value, or nil for other kinds.
    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// The integer value (also from an integral double), or nil.
    public var intValue: Int? {
        switch self {
        case .integer(let value): return Int(exactly: value)
        case .double(let value): return Int(exactly: value)
        default: return nil
        }
    }

    /// The members of an object, or nil.
    public var objectValue: [String: KubernetesJSON]? {
        guard case .object(let members) = self else { return nil }
        return members
    }

    /// The elements of an array, or nil.
    public var arrayValue: [KubernetesJSON]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    /// `metadata.name`, or "" when absent.
    public var name: String { self["metadata"]?["name"]?.stringValue ?? "" }

    /// `metadata.namespace`, or "" for cluster-scoped objects.
    public var namespace: String { self["metadata"]?["namespace"]?.stringValue ?? "" }

    /// Compact JSON text with object keys sorted, so equal values always serialize identically.
    public var serialized: String {
        var out = ""
        self.write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null:
            out += "null"
        case .bool(let value):
            out += value ? "true" : "false"
        case .integer(let value):
            out += String(value)
        case .double(let value):
            out += value.isFinite ? "\(value)" : "null"
        case .string(let value):
            Self.writeString(value, into: &out)
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, into: &out)
                out += ":"
                members[key]!.write(into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20:
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension KubernetesJSON: Codable {
    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var elements: [KubernetesJSON] = []
            while !array.isAtEnd { elements.append(try array.decode(KubernetesJSON.self)) }
            self = .array(elements)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: KubernetesJSON] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(KubernetesJSON.self, forKey: key) }
            self = .object(members)
            return
        }
        let value = try decoder.singleValueContainer()
        if value.decodeNil() {
            self = .null
        } else if let bool = try? value.decode(Bool.self) {
            self = .bool(bool)
        } else if let integer = try? value.decode(Int64.self) {
            self = .integer(integer)
        } else if let double = try? value.decode(Double.self) {
            self = .double(double)
        } else {
            self = .string(try value.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .integer(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .double(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .string(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .object(let members):
            var container = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in members { try container.encode(value, forKey: AnyKey(stringValue: key)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
