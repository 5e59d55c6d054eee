import PortcullisModel

/// Istio's config ordering and visibility rules, shared by the DestinationRule and ServiceEntry indexes.
enum ClusterConfigOrder {
    /// Creation order (ISTIO-SEMANTICS §6): `creationTimestamp`, then name, then namespace. RFC 3339 UTC text sorts
    /// in time order; an absent timestamp sorts first, so files without timestamps fall back to name order.
    static func precedes(_ a: ObjectMeta, _ b: ObjectMeta) -> Bool {
        let ta = a.creationTimestamp ?? ""
        let tb = b.creationTimestamp ?? ""
        if ta != tb { return ta < tb }
        if a.name != b.name { return a.name < b.name }
        return a.namespace < b.namespace
    }

    /// Whether an object in `namespace` with `exportTo` is visible from `viewer` (§6 "Visibility").
    /// Empty = `*`; `.` = own namespace; `~` = nobody (ServiceEntry only).
    static func isVisible(exportTo: [String], namespace: String, from viewer: String) -> Bool {
        if exportTo.isEmpty { return true }
        for target in exportTo {
            switch target {
            case "*": return true
            case ".": if namespace == viewer { return true }
            case "~": continue
            default: if target == viewer { return true }
            }
        }
        return false
    }

    /// Whether `pattern` (an exact host, `*`, or `*.suffix`) covers `host`; case-insensitive per DNS.
    /// A wildcard `host` is covered only by an equal or wider wildcard.
    static func covers(_ pattern: String, _ host: String) -> Bool {
        let pattern = pattern.lowercased()
        let host = host.lowercased()
        if pattern == host || pattern == "*" { return true }
        guard pattern.hasPrefix("*") else { return false }
        let suffix = pattern.dropFirst()
        if host.hasPrefix("*") { return host.dropFirst().hasSuffix(suffix) && host.count > pattern.count }
        return host.hasSuffix(suffix)
    }

    /// Specificity rank of a pattern that covers a host: exact beats any wildcard, longer wildcards beat shorter.
    static func specificity(_ pattern: String, for host: String) -> Int {
        pattern.lowercased() == host.lowercased() ? Int.max : pattern.count
    }
}
