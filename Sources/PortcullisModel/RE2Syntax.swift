/// The subset of regular-expression syntax Istio accepts: RE2 (ISTIO-SEMANTICS §8.2).
///
/// Envoy compiles every route regex with RE2, which has no back-references, look-around, atomic groups or
/// possessive quantifiers, and Istio caps patterns at 1024 characters. We check for those constructs explicitly
/// (Swift's engine would accept them) and then compile the pattern as a Swift `Regex`, which the router uses.
public enum RE2Syntax {
    /// Istio's maximum regex length (`validation.go`, `maxRegexProgramSize` stand-in).
    public static let maxLength = 1024

    /// nil when the pattern is acceptable RE2 (<=1024 chars, no backrefs \1, no lookaround (?= (?! (?<= (?<!,
    /// no possessive/atomic groups, compiles as a Swift Regex); else the message.
    public static func validate(_ pattern: String) -> String? {
        if pattern.isEmpty { return "regex is empty" }
        if pattern.count > self.maxLength {
            return "regex is \(pattern.count) characters long; the limit is \(self.maxLength)"
        }
        if let problem = self.unsupportedConstruct(Array(pattern.unicodeScalars)) { return problem }
        do {
            _ = try Regex(pattern)
        } catch {
            return "invalid regex: \(error)"
        }
        return nil
    }

    /// Scans outside and inside character classes, skipping escaped characters.
    private static func unsupportedConstruct(_ s: [Unicode.Scalar]) -> String? {
        var i = 0
        var inClass = false
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                guard i + 1 < s.count else { return "invalid regex: trailing backslash" }
                let next = s[i + 1]
                if !inClass, next.value >= 49, next.value <= 57 {
                    // RE2 reads \1..\7 followed by an octal digit as an octal escape; a lone digit is a backref.
                    let octal = i + 2 < s.count && s[i + 2].value >= 48 && s[i + 2].value <= 55 && next.value <= 55
                    if !octal { return "back-references (\\\(next)) are not supported by RE2" }
                }
                if !inClass, next == "k" { return "named back-references (\\k) are not supported by RE2" }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                i += 1
                continue
            }
            switch c {
            case "[":
                inClass = true
                // A `]` right after `[` or `[^` is a literal member.
                if i + 1 < s.count, s[i + 1] == "^" { i += 1 }
                if i + 1 < s.count, s[i + 1] == "]" { i += 1 }
            case "(":
                if let problem = self.groupProblem(s, i) { return problem }
            case "*", "+", "?", "}":
                if i + 1 < s.count, s[i + 1] == "+" {
                    return "possessive quantifiers (\(c)+) are not supported by RE2"
                }
            default:
                break
            }
            i += 1
        }
        return nil
    }

    private static func groupProblem(_ s: [Unicode.Scalar], _ i: Int) -> String? {
        guard i + 2 < s.count, s[i + 1] == "?" else { return nil }
        let a = s[i + 2]
        let b: Unicode.Scalar? = i + 3 < s.count ? s[i + 3] : nil
        if a == "=" || a == "!" { return "look-ahead (?\(a) is not supported by RE2" }
        if a == "<", b == "=" || b == "!" { return "look-behind (?<\(b!) is not supported by RE2" }
        if a == ">" { return "atomic groups (?> are not supported by RE2" }
        if a == "|" { return "branch-reset groups (?| are not supported by RE2" }
        return nil
    }
}
