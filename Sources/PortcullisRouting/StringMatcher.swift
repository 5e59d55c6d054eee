import PortcullisModel

/// A precompiled Istio `StringMatch` (ISTIO-SEMANTICS §2.3): exact and prefix are plain byte comparisons, regex
/// is a full match compiled at config time, `present` only requires the value to exist.
public struct StringMatcher: Sendable {
    public enum Kind: Sendable, Equatable {
        case exact
        case prefix
        case regex
        case present
    }

    public let kind: Kind
    /// The pattern as written (lower-cased when `ignoreCase`); empty for `present`.
    public let pattern: String
    /// `ignoreUriCase`: ASCII case-insensitive for exact/prefix only; regexes are unaffected.
    public let ignoreCase: Bool
    let regex: CompiledRegex?

    /// Builds the matcher; throws the regex compile error so the compiler can name the field.
    init(_ match: StringMatch, ignoreCase: Bool = false) throws {
        switch match {
        case .exact(let s):
            self.kind = .exact
            self.pattern = ignoreCase ? s.lowercased() : s
            self.regex = nil
        case .prefix(let s):
            self.kind = .prefix
            self.pattern = ignoreCase ? s.lowercased() : s
            self.regex = nil
        case .regex(let s):
            self.kind = .regex
            self.pattern = s
            self.regex = try CompiledRegex(s)
        case .present:
            self.kind = .present
            self.pattern = ""
            self.regex = nil
        }
        self.ignoreCase = ignoreCase && (self.kind == .exact || self.kind == .prefix)
    }

    /// Whether `value` satisfies the match; never allocates for exact/prefix.
    func matches(_ value: Substring) -> Bool {
        switch self.kind {
        case .present:
            return true
        case .exact:
            if self.ignoreCase { return ASCII.equalsFolded(value.utf8, self.pattern.utf8) }
            return value.utf8.elementsEqual(self.pattern.utf8)
        case .prefix:
            guard value.utf8.count >= self.pattern.utf8.count else { return false }
            let head = value.utf8.prefix(self.pattern.utf8.count)
            if self.ignoreCase { return ASCII.equalsFolded(head, self.pattern.utf8) }
            return head.elementsEqual(self.pattern.utf8)
        case .regex:
            return self.regex?.wholeMatch(value) ?? false
        }
    }

    func matches(_ value: String) -> Bool { self.matches(value[...]) }

    /// `prefix /`, `regex .*` (or `*`) and `present`: matches every path (§2.8 catch-all detection).
    var matchesEverything: Bool {
        switch self.kind {
        case .present: true
        case .prefix: self.pattern.isEmpty || self.pattern == "/"
        case .regex: self.pattern == ".*" || self.pattern == "*"
        case .exact: false
        }
    }
}

/// ASCII helpers used on the request path; host names and methods are ASCII on the wire.
enum ASCII {
    /// Compares `a` (any case) with `lowered` (already lower-case) byte by byte.
    static func equalsFolded<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ lowered: B) -> Bool {
        guard a.count == lowered.count else { return false }
        var i = lowered.makeIterator()
        for byte in a {
            guard let other = i.next(), lower(byte) == other else { return false }
        }
        return true
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

    static func hasUpper<C: Collection<UInt8>>(_ c: C) -> Bool { c.contains { $0 >= 65 && $0 <= 90 } }
}
