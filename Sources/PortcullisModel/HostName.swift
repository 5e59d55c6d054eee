/// Istio host-name rules shared by the loader, the router and the cluster builder (ISTIO-SEMANTICS §2.1, §6).
public enum HostName {
    /// Short names (no dot) -> "<name>.<namespace>.svc.<domain>"; names with a dot, "*", wildcards and IPs unchanged.
    ///
    /// Istio expands only VirtualService hosts, route/mirror destinations and DestinationRule hosts this way, with
    /// the namespace of the object that holds the name (§6 "Short host names").
    public static func expand(_ host: String, namespace: String, domain: String = "cluster.local") -> String {
        if host.isEmpty || host.contains(".") || host.contains("*") || host.contains(":") { return host }
        return "\(host).\(namespace).svc.\(domain)"
    }

    /// Istio `host.Name.Matches`: equality, or wildcard suffix semantics in either direction.
    static func matches(_ a: String, _ b: String) -> Bool {
        let aWild = a.hasPrefix("*")
        let bWild = b.hasPrefix("*")
        switch (aWild, bWild) {
        case (true, true):
            return a.count < b.count ? b.dropFirst().hasSuffix(a.dropFirst()) : a.dropFirst().hasSuffix(b.dropFirst())
        case (true, false): return b.hasSuffix(a.dropFirst())
        case (false, true): return a.hasSuffix(b.dropFirst())
        case (false, false): return a == b
        }
    }
}
