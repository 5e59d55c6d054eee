/// A regular expression compiled once at config time and shared read-only by every event loop.
///
/// `Regex<AnyRegexOutput>` is not `Sendable`; it is immutable after construction and its lazily built program is
/// guarded internally, so sharing one instance across threads is safe.
final class CompiledRegex: @unchecked Sendable {
    let source: String
    let regex: Regex<AnyRegexOutput>

    /// Compiles `source`; throws when Swift's regex engine rejects the syntax.
    init(_ source: String) throws {
        self.source = source
        self.regex = try Regex(source)
    }

    /// RE2-style full match: the pattern is implicitly anchored at both ends (ISTIO-SEMANTICS §2.3, §8.2).
    func wholeMatch(_ value: Substring) -> Bool {
        (try? self.regex.wholeMatch(in: value)) != nil
    }

    /// Replaces every non-overlapping match, expanding `\0`…`\9` in `template` (Envoy `regex_rewrite`, §2.6).
    func replaceAll(in value: String, template: String) -> String {
        var out = ""
        var last = value.startIndex
        for match in value.matches(of: self.regex) {
            out += value[last..<match.range.lowerBound]
            out += Self.expand(template, match: match)
            last = match.range.upperBound
        }
        out += value[last...]
        return out
    }

    private static func expand(_ template: String, match: Regex<AnyRegexOutput>.Match) -> String {
        var out = ""
        var iterator = template.makeIterator()
        while let c = iterator.next() {
            guard c == "\\" else {
                out.append(c)
                continue
            }
            guard let n = iterator.next() else {
                out.append(c)
                break
            }
            if let digit = n.wholeNumberValue, n.isASCII {
                if digit < match.output.count, let sub = match.output[digit].substring {
                    out += sub
                }
            } else {
                out.append(n)
            }
        }
        return out
    }
}
