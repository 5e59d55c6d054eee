import PortcullisModel

/// Host-name rules used at config time (ISTIO-SEMANTICS §1.3, §2.1, §6).
enum HostNames {
    /// Short-name expansion: a name without a dot becomes `<name>.<namespace>.svc.<domain>`; names with a dot,
    /// `*`, wildcards and IP literals are kept as written.
    static func expand(_ host: String, namespace: String, domain: String) -> String {
        HostName.expand(host, namespace: namespace, domain: domain)
    }

    /// Resolves a VS `gateways` entry to `ns/name` (`name`, `./name`, `ns/name`, legacy `name.ns.svc...`);
    /// `mesh` stays `mesh`.
    static func gatewayID(_ ref: String, vsNamespace: String) -> String {
        if ref == "mesh" { return ref }
        if let slash = ref.firstIndex(of: "/") {
            let ns = ref[..<slash]
            let name = ref[ref.index(after: slash)...]
            return ns == "." ? "\(vsNamespace)/\(name)" : ref
        }
        let parts = ref.split(separator: ".")
        if parts.count >= 2 { return "\(parts[1])/\(parts[0])" }
        return "\(vsNamespace)/\(ref)"
    }

    /// A Gateway server host split into the namespace restriction (nil = any) and the lower-cased DNS name.
    /// `./h` means the Gateway's namespace; `*/h` and bare `h` mean any.
    static func serverHost(_ raw: String, gatewayNamespace: String) -> (namespace: String?, host: String) {
        guard let slash = raw.firstIndex(of: "/") else { return (nil, raw.lowercased()) }
        let ns = String(raw[..<slash])
        let host = String(raw[raw.index(after: slash)...]).lowercased()
        switch ns {
        case "*": return (nil, host)
        case ".": return (gatewayNamespace, host)
        default: return (ns, host)
        }
    }

    /// All server hosts of one server; `*/*` anywhere replaces the whole list with `*` (pilot behaviour).
    static func serverHosts(_ raw: [String], gatewayNamespace: String) -> [(namespace: String?, host: String)] {
        if raw.contains("*/*") { return [(nil, "*")] }
        return raw.map { self.serverHost($0, gatewayNamespace: gatewayNamespace) }
    }

    /// Istio wildcard intersection in either direction, returning the more specific name, or nil when the two
    /// names do not overlap. `*.example.com` does not match `example.com`; `*.com` matches `a.b.com`.
    static func intersect(_ a: String, _ b: String) -> String? {
        let aw = a.hasPrefix("*")
        let bw = b.hasPrefix("*")
        switch (aw, bw) {
        case (false, false):
            return a == b ? a : nil
        case (true, false):
            return self.wildcard(a, matches: b) ? b : nil
        case (false, true):
            return self.wildcard(b, matches: a) ? a : nil
        case (true, true):
            let sa = a.dropFirst()
            let sb = b.dropFirst()
            if sa.hasSuffix(sb) { return a }
            if sb.hasSuffix(sa) { return b }
            return nil
        }
    }

    /// `*suffix` against a concrete name: a plain suffix match that spans labels.
    static func wildcard(_ pattern: String, matches name: String) -> Bool {
        let suffix = pattern.dropFirst()
        return name.count > suffix.count && name.hasSuffix(suffix)
    }

    /// Whether `name` (concrete or wildcard) is covered by `pattern` (concrete or wildcard).
    static func covers(_ pattern: String, _ name: String) -> Bool {
        if pattern == name { return true }
        guard pattern.hasPrefix("*") else { return false }
        if name.hasPrefix("*") { return name.dropFirst().hasSuffix(pattern.dropFirst()) }
        return self.wildcard(pattern, matches: name)
    }
}
