/// Go `time.ParseDuration` syntax, the duration format of Istio's Kubernetes resources (ISTIO-SEMANTICS §6).
///
/// Accepts a sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`), optionally signed: `1.5s`, `30ms`, `1h30m`, `180.000s`, and a bare `0`. Istio itself works at
/// millisecond precision; callers that validate (timeouts, delays) check that separately, so the parsed value is
/// kept exact to the nanosecond here.
public enum GoDuration {
    /// The duration written in `text`, or nil when it is not Go duration syntax or overflows ±292 years.
    public static func parse(_ text: String) -> Duration? {
        var scalars = Array(text.unicodeScalars)[...]
        var negative = false
        if let first = scalars.first, first == "-" || first == "+" {
            negative = first == "-"
            scalars = scalars.dropFirst()
        }
        if scalars.count == 1, scalars.first == "0" { return .zero }
        if scalars.isEmpty { return nil }
        var total: Int64 = 0
        while !scalars.isEmpty {
            guard let (whole, fraction, scale, rest) = self.number(scalars) else { return nil }
            guard let (unit, afterUnit) = self.unit(rest) else { return nil }
            scalars = afterUnit
            let (wholeNanos, overflow1) = whole.multipliedReportingOverflow(by: unit)
            if overflow1 { return nil }
            var value = wholeNanos
            if fraction > 0 {
                // Same rounding as Go: the fraction is scaled in floating point.
                let extra = Double(fraction) * (Double(unit) / scale)
                guard extra < Double(Int64.max) else { return nil }
                let (sum, overflow2) = value.addingReportingOverflow(Int64(extra))
                if overflow2 { return nil }
                value = sum
            }
            let (sum, overflow3) = total.addingReportingOverflow(value)
            if overflow3 { return nil }
            total = sum
        }
        return .nanoseconds(negative ? -total : total)
    }

    /// Leading `digits[.digits]`; at least one digit on either side of the dot.
    private static func number(
        _ s: ArraySlice<Unicode.Scalar>
    ) -> (Int64, Int64, Double, ArraySlice<Unicode.Scalar>)? {
        var rest = s
        var whole: Int64 = 0
        var sawDigits = false
        while let c = rest.first, let d = self.digit(c) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            whole = a
            sawDigits = true
            rest = rest.dropFirst()
        }
        var fraction: Int64 = 0
        var scale = 1.0
        if rest.first == "." {
            rest = rest.dropFirst()
            while let c = rest.first, let d = self.digit(c) {
                // Digits beyond 18 cannot change a nanosecond result; Go drops them the same way.
                if fraction < 100_000_000_000_000_000 {
                    fraction = fraction * 10 + d
                    scale *= 10
                }
                sawDigits = true
                rest = rest.dropFirst()
            }
        }
        return sawDigits ? (whole, fraction, scale, rest) : nil
    }

    private static func unit(_ s: ArraySlice<Unicode.Scalar>) -> (Int64, ArraySlice<Unicode.Scalar>)? {
        var end = s.startIndex
        while end < s.endIndex, s[end] != ".", self.digit(s[end]) == nil { end += 1 }
        let name = String(String.UnicodeScalarView(s[s.startIndex..<end]))
        let nanos: Int64
        switch name {
        case "ns": nanos = 1
        case "us", "µs", "μs": nanos = 1_000
        case "ms": nanos = 1_000_000
        case "s": nanos = 1_000_000_000
        case "m": nanos = 60_000_000_000
        case "h": nanos = 3_600_000_000_000
        default: return nil
        }
        return (nanos, s[end...])
    }

    private static func digit(_ c: Unicode.Scalar) -> Int64? {
        guard c.value >= 48, c.value <= 57 else { return nil }
        return Int64(c.value - 48)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating; used by validation to check Istio's `>= 1ms` and ms-precision rules.
    var portcullisNanoseconds: Int64 {
        let (seconds, atto) = self.components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns &+ atto / 1_000_000_000
    }
}
