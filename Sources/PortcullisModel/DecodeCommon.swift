import Yams

/// Checks shared by several kinds (ISTIO-SEMANTICS §2.1, §6).
extension DecodeContext {
    /// Istio `ValidateDuration`-style check: at least 1 ms, whole milliseconds (timeouts, delays, intervals).
    func checkDuration(_ d: Duration?, _ path: String, allowZero: Bool = false) {
        guard let d else { return }
        let ns = d.portcullisNanoseconds
        if allowZero, ns == 0 { return }
        if ns < 1_000_000 {
            self.error(path, "duration must be at least 1ms")
        } else if ns % 1_000_000 != 0 {
            self.error(path, "only durations to ms precision are supported")
        }
    }

    /// `exportTo`: `*`, `.`, `~` or namespace names; `*` and `~` may not be combined with anything (§2.1).
    func checkExportTo(_ values: [String], _ path: String) {
        var seen: Set<String> = []
        for (i, value) in values.enumerated() {
            if !seen.insert(value).inserted {
                self.error("\(path)[\(i)]", "duplicate exportTo entry \"\(value)\"")
            } else if value != "*", value != ".", value != "~", !NameSyntax.isDNS1123Label(value) {
                self.error("\(path)[\(i)]", "exportTo entry \"\(value)\" must be *, ., ~ or a namespace name")
            }
        }
        if values.count > 1, seen.contains("*") || seen.contains("~") {
            self.error(path, "exportTo cannot combine \"*\" or \"~\" with other values")
        }
    }

    /// A non-negative integer field.
    func checkNonNegative(_ value: Int?, _ path: String) {
        if let value, value < 0 { self.error(path, "must be >= 0, not \(value)") }
    }

    /// `0..=100` percentages such as `maxEjectionPercent`.
    func checkPercent(_ value: Double?, _ path: String) {
        if let value, value < 0 || value > 100 { self.error(path, "percentage \(value) must be in 0..100") }
    }
}
