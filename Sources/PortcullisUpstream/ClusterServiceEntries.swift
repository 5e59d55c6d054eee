import PortcullisModel

/// Finds the ServiceEntry that declares a destination host for the gateway (ISTIO-SEMANTICS §4).
///
/// Only entries exported to the gateway's namespace count. An exact host wins over wildcards; among exact matches
/// an entry in the gateway's namespace wins, then the oldest. A wildcard host (`*.example.com`) covers a concrete
/// destination only when the entry names its endpoints itself (`STATIC`, or `DNS` with `endpoints`): a DNS entry
/// without endpoints resolves its own host, which is impossible for a wildcard (§4.1, §8 item 20).
struct ServiceEntryIndex {
    private let entries: [ServiceEntry]
    private let gatewayNamespace: String

    init(entries: [ServiceEntry], gatewayNamespace: String) {
        self.gatewayNamespace = gatewayNamespace
        self.entries = entries
            .filter {
                ClusterConfigOrder.isVisible(
                    exportTo: $0.exportTo, namespace: $0.meta.namespace, from: gatewayNamespace)
            }
            .sorted { ClusterConfigOrder.precedes($0.meta, $1.meta) }
    }

    /// The entry for `host` and the host pattern it matched, or nil when none declares it.
    func lookup(host: String) -> (entry: ServiceEntry, matchedHost: String)? {
        let wanted = host.lowercased()
        var best: (entry: ServiceEntry, matchedHost: String, rank: Int)?
        for entry in self.entries {
            for pattern in entry.hosts where ClusterConfigOrder.covers(pattern, wanted) {
                let exact = pattern.lowercased() == wanted
                if !exact && !Self.wildcardUsable(entry) { continue }
                let rank = self.rank(entry, pattern: pattern, host: wanted)
                if best == nil || rank > best!.rank { best = (entry, pattern, rank) }
            }
        }
        return best.map { ($0.entry, $0.matchedHost) }
    }

    /// Exact first, then longer wildcards; the gateway's own namespace breaks ties; earlier entries win otherwise
    /// (the scan is in creation order and only a strictly better rank replaces the current best).
    private func rank(_ entry: ServiceEntry, pattern: String, host: String) -> Int {
        let specificity = ClusterConfigOrder.specificity(pattern, for: host)
        let local = entry.meta.namespace == self.gatewayNamespace ? 1 : 0
        return specificity == Int.max ? Int.max - 1 + local : specificity * 2 + local
    }

    private static func wildcardUsable(_ entry: ServiceEntry) -> Bool {
        switch entry.resolution {
        case .static: return true
        case .dns, .dnsRoundRobin: return !entry.endpoints.isEmpty
        case .none, .dynamicDNS: return false
        }
    }
}
