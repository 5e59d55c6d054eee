import PortcullisModel

/// The DestinationRules that apply to one host, merged (ISTIO-SEMANTICS §3.6 rule 3).
public struct MergedDestinationRule: Sendable, Hashable {
    /// `namespace/name` of each contributing rule, in creation order.
    public let sources: [String]
    /// The first non-nil top-level `trafficPolicy`; later ones are discarded.
    public let trafficPolicy: TrafficPolicy?
    /// Concatenated subsets; a duplicate name keeps the first definition.
    public let subsets: [Subset]

    /// Merges `rules`, which must already be in creation order.
    init(rules: [DestinationRule]) {
        self.sources = rules.map { "\($0.meta.namespace)/\($0.meta.name)" }
        self.trafficPolicy = rules.lazy.compactMap(\.trafficPolicy).first
        var seen = Set<String>()
        var subsets: [Subset] = []
        for subset in rules.flatMap(\.subsets) where seen.insert(subset.name).inserted {
            subsets.append(subset)
        }
        self.subsets = subsets
    }

    public func subset(named name: String) -> Subset? {
        self.subsets.first { $0.name == name }
    }
}

/// Finds the DestinationRules a gateway sees for a host (§3.1).
///
/// Namespaces are searched in order: the gateway's, the service's (the ServiceEntry's), then the root namespace;
/// the first namespace with a covering rule decides. Inside it the most specific host wins (exact, then the longest
/// wildcard) and every rule with that host is merged. Rules in the gateway's own namespace are always visible to it
/// (Istio's namespace-local index); rules elsewhere need an `exportTo` that reaches the gateway's namespace.
/// A rule with a `workloadSelector` applies only in the gateway's namespace and only when the selector matches the
/// gateway's labels; such rules are preferred over selector-less rules for the same host.
struct DestinationRuleIndex {
    private struct Entry {
        let host: String
        let rule: DestinationRule
    }

    private let byNamespace: [String: [Entry]]
    private let gatewayNamespace: String
    private let rootNamespace: String
    private let workloadLabels: [String: String]?

    init(
        rules: [DestinationRule], gatewayNamespace: String, domain: String, rootNamespace: String = "istio-system",
        workloadLabels: [String: String]?
    ) {
        self.gatewayNamespace = gatewayNamespace
        self.rootNamespace = rootNamespace
        self.workloadLabels = workloadLabels
        var byNamespace: [String: [Entry]] = [:]
        for rule in rules.sorted(by: { ClusterConfigOrder.precedes($0.meta, $1.meta) }) {
            let ns = rule.meta.namespace
            let visible = ns == gatewayNamespace
                || ClusterConfigOrder.isVisible(exportTo: rule.exportTo, namespace: ns, from: gatewayNamespace)
            guard visible, Self.selectorApplies(rule, gatewayNamespace, workloadLabels) else { continue }
            let host = HostName.expand(rule.host, namespace: ns, domain: domain).lowercased()
            byNamespace[ns, default: []].append(Entry(host: host, rule: rule))
        }
        self.byNamespace = byNamespace
    }

    /// The merged rules for `host`, or nil when no visible rule covers it.
    func lookup(host: String, serviceNamespace: String) -> MergedDestinationRule? {
        var order = [self.gatewayNamespace]
        for ns in [serviceNamespace, self.rootNamespace] where !order.contains(ns) { order.append(ns) }
        for ns in order {
            guard let entries = self.byNamespace[ns] else { continue }
            let covering = entries.filter { ClusterConfigOrder.covers($0.host, host) }
            func rank(_ entry: Entry) -> Int { ClusterConfigOrder.specificity(entry.host, for: host) }
            guard let best = covering.max(by: { rank($0) < rank($1) }) else { continue }
            let same = covering.filter { $0.host == best.host }.map(\.rule)
            let selected = same.filter { $0.workloadSelector != nil }
            return MergedDestinationRule(rules: selected.isEmpty ? same : selected)
        }
        return nil
    }

    private static func selectorApplies(
        _ rule: DestinationRule, _ gatewayNamespace: String, _ labels: [String: String]?
    ) -> Bool {
        guard let selector = rule.workloadSelector else { return true }
        guard rule.meta.namespace == gatewayNamespace, let labels else { return false }
        return selector.allSatisfy { labels[$0.key] == $0.value }
    }
}
