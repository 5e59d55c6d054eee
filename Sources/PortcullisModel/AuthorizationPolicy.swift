import Foundation
import Yams

/// A `security.istio.io` AuthorizationPolicy (`v1` or `v1beta1`, ISTIO-SEMANTICS §5), read and carried in the
/// config but **not enforced** yet: the gateway does not evaluate it. Only its envelope is decoded into fields
/// (selector, action, provider); the rules and target references are kept as data, as written, for the
/// authorization work to interpret.
public struct AuthorizationPolicy: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        case allow = "ALLOW"
        case deny = "DENY"
        case audit = "AUDIT"
        case custom = "CUSTOM"
    }

    public var meta: ObjectMeta
    /// `selector.matchLabels`; nil when the policy has no selector (it then applies to every workload of its
    /// namespace, or of the mesh in the root namespace).
    public var selector: [String: String]?
    /// `targetRef` and `targetRefs`, as written (a selector-deployed gateway ignores policies that set them).
    public var targetRefs: [ConfigValue]
    /// `action`; Istio's default is ALLOW.
    public var action: Action
    /// `provider.name` of a CUSTOM policy.
    public var provider: String?
    /// `rules`, each as written (`from`, `to`, `when`). Empty when unset (an ALLOW policy then allows nothing).
    public var rules: [ConfigValue]

    public init(
        meta: ObjectMeta, selector: [String: String]? = nil, targetRefs: [ConfigValue] = [], action: Action = .allow,
        provider: String? = nil, rules: [ConfigValue] = []
    ) {
        self.meta = meta
        self.selector = selector
        self.targetRefs = targetRefs
        self.action = action
        self.provider = provider
        self.rules = rules
    }
}

/// A YAML/JSON value kept as data, for parts of the config that are carried but not interpreted.
public indirect enum ConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    /// Keys in the order written.
    case map([(key: String, value: ConfigValue)])

    public static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v): hasher.combine(v)
        case .int(let v): hasher.combine(v)
        case .double(let v): hasher.combine(v)
        case .string(let v): hasher.combine(v)
        case .list(let v): hasher.combine(v)
        case .map(let entries):
            hasher.combine(entries.count)
            for entry in entries {
                hasher.combine(entry.key)
                hasher.combine(entry.value)
            }
        }
    }

    /// The value as a Foundation object for `JSONSerialization` (maps become dictionaries).
    public var foundationValue: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let v): return v
        case .int(let v): return v
        case .double(let v): return v
        case .string(let v): return v
        case .list(let v): return v.map(\.foundationValue)
        case .map(let entries):
            var out: [String: Any] = [:]
            for entry in entries { out[entry.key] = entry.value.foundationValue }
            return out
        }
    }

    /// The member `key` of a map, or nil.
    public subscript(key: String) -> ConfigValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}

extension ConfigLoader {
    /// `security.istio.io` versions of AuthorizationPolicy; they share one schema (ISTIO-SEMANTICS §5).
    static let securityVersions: Set<String> = ["security.istio.io/v1", "security.istio.io/v1beta1"]

    /// Decodes an AuthorizationPolicy's envelope; `rules` and `targetRef(s)` are kept as data, unchecked beyond
    /// their shape (the policy is carried, not enforced).
    static func decodeAuthorizationPolicy(
        _ top: Fields, _ ctx: DecodeContext, _ state: inout LoadState, _ meta: () -> ObjectMeta
    ) {
        let spec: Fields
        if let node = top.take("spec"), let fields = Fields(node, path: "spec", ctx: ctx) {
            spec = fields
        } else {
            spec = Fields(.mapping(Node.Mapping([])), path: "spec", ctx: ctx)!
        }
        let selector = spec.object("selector") { selector -> [String: String] in
            let labels = selector.stringMap("matchLabels")
            selector.finish()
            return labels
        }
        var targetRefs: [ConfigValue] = []
        if let node = spec.take("targetRef") { targetRefs.append(ctx.value(node, spec.child("targetRef"))) }
        if let node = spec.take("targetRefs") {
            for element in ctx.list(node, spec.child("targetRefs")) {
                targetRefs.append(ctx.value(element.node, element.path))
            }
        }
        let action = spec.enumValue("action", AuthorizationPolicy.Action.self) ?? .allow
        let provider = spec.object("provider") { provider -> String? in
            let name = provider.string("name")
            provider.finish()
            return name
        }
        var rules: [ConfigValue] = []
        if let node = spec.take("rules") {
            for element in ctx.list(node, spec.child("rules")) {
                guard case .mapping = element.node else {
                    ctx.error(element.path, "must be a map, not \(element.node.typeName)", line: element.node.line)
                    continue
                }
                rules.append(ctx.value(element.node, element.path))
            }
        }
        spec.finish()
        if ctx.errorCount == 0 {
            state.config.authorizationPolicies.append(
                AuthorizationPolicy(
                    meta: meta(), selector: selector, targetRefs: targetRefs, action: action,
                    provider: provider ?? nil, rules: rules))
        }
    }
}

extension DecodeContext {
    /// Any YAML value as data: quoted scalars are strings, plain ones are read as YAML 1.2 core types.
    func value(_ node: Node, _ path: String) -> ConfigValue {
        switch node {
        case .scalar(let scalar):
            if node.isQuoted { return .string(scalar.string) }
            if node.isNull { return .null }
            switch scalar.string {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: break
            }
            if let int = Int(scalar.string) { return .int(int) }
            if let double = Double(scalar.string), double.isFinite,
                scalar.string.allSatisfy({ $0.isNumber || "+-.eE".contains($0) })
            {
                return .double(double)
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var out: [ConfigValue] = []
            for (i, element) in sequence.enumerated() {
                let p = "\(path)[\(i)]"
                guard self.visit(p, line: element.line) else { break }
                out.append(self.value(element, p))
            }
            return .list(out)
        case .mapping(let mapping):
            var out: [(key: String, value: ConfigValue)] = []
            for (key, value) in mapping {
                let name = key.string ?? ""
                let p = path.isEmpty ? name : "\(path).\(name)"
                guard self.visit(p, line: key.line) else { break }
                out.append((name, self.value(value, p)))
            }
            return .map(out)
        case .alias:
            self.error(path, "must not be an unresolved alias", line: node.line)
            return .null
        }
    }
}
