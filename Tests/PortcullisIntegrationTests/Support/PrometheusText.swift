/// Reads samples out of a Prometheus text exposition, whatever order the labels come in.
enum PrometheusText {
    /// The value of the sample of `name` whose labels are exactly `labels`; nil when there is none.
    static func value(_ text: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            var found: [String: String] = [:]
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                // Label values here never contain `,` or `"` (config names and fixed reasons).
                for pair in line[line.index(after: open)..<close].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    found[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            }
            if found == labels { return value }
        }
        return nil
    }

    /// `portcullis_egress_attempts_total` for an allowed ServiceEntry (0 when absent).
    static func egressAllowed(_ text: String, mode: String, serviceEntry: String) -> Double {
        Self.value(
            text, "portcullis_egress_attempts_total",
            ["mode": mode, "result": "allowed", "service_entry": serviceEntry, "reason": "-"]) ?? 0
    }

    /// `portcullis_egress_attempts_total` for a refusal reason (0 when absent).
    static func egressDenied(_ text: String, mode: String, reason: String) -> Double {
        Self.value(
            text, "portcullis_egress_attempts_total",
            ["mode": mode, "result": "denied", "service_entry": "-", "reason": reason]) ?? 0
    }
}
