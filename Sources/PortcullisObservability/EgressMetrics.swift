/// Why an egress attempt was refused: the `reason` label of `portcullis_egress_attempts_total`.
///
/// A fixed set, so the label stays bounded whatever clients ask for; the requested host is never a label
/// (STYLE.md rule 12). The access log carries the details.
public enum EgressRefusal: String, Sendable, Hashable, CaseIterable {
    /// Forward proxy: the host is in no ServiceEntry, or its port is not one of the entry's ports.
    case notInAllowList = "not_in_allowlist"
    /// Forward proxy: an IP-literal target no ServiceEntry `addresses` lists, or a non-canonical numeric host.
    case ipLiteral = "ip_literal"
    /// Forward proxy: a resolved address is loopback, link-local, private or otherwise special and not allowed.
    case privateAddress = "private_address"
    /// Forward proxy: the TLS SNI inside a CONNECT tunnel differs from the CONNECT host (or is missing).
    case sniMismatch = "sni_mismatch"
    /// Gateway: a route sends to a host no ServiceEntry declares (503 NC, ISTIO-SEMANTICS §4.2).
    case noServiceEntry = "no_service_entry"
    /// Gateway: mesh `outboundTrafficPolicy.mode: REGISTRY_ONLY` blocked an unknown host (502, §4.2).
    case notInRegistry = "not_in_registry"
}

/// Where the attempt came in: the `mode` label.
public enum EgressMode: String, Sendable, Hashable {
    /// A `ForwardProxy` listener (CONNECT, absolute-form).
    case forwardProxy = "forward_proxy"
    /// A Gateway server (the Istio egress-gateway patterns of ISTIO-SEMANTICS §4.3).
    case gateway
}

extension GatewayMetrics {
    static let egressAttempts = "portcullis_egress_attempts_total"
    static let egressAttemptsHelp =
        "Egress attempts: allowed (to a MESH_EXTERNAL ServiceEntry, by its namespace/name) or denied (by reason)."

    /// Counts one egress attempt when `record` is one: `serviceEntry` set means allowed, `egressRefusal` denied.
    ///
    /// `portcullis_egress_attempts_total{mode, result="allowed", service_entry="ns/name", reason="-"}` or
    /// `{mode, result="denied", service_entry="-", reason="<EgressRefusal>"}`.
    public func recordEgress(_ record: RequestRecord, mode: EgressMode) {
        let labels: [(String, String)]
        if let refusal = record.egressRefusal {
            labels = [
                ("mode", mode.rawValue), ("result", "denied"), ("service_entry", "-"), ("reason", refusal.rawValue),
            ]
        } else if let entry = record.serviceEntry {
            labels = [("mode", mode.rawValue), ("result", "allowed"), ("service_entry", entry), ("reason", "-")]
        } else {
            return
        }
        self.counter(Self.egressAttempts, help: Self.egressAttemptsHelp, labels: labels).increment()
    }
}
