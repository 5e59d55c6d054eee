/// Chooses a server ``TLSContext`` by the SNI of a ClientHello (RFC 6066 §3).
///
/// Order (ISTIO-SEMANTICS.md §1.5-1.6, ARCHITECTURE.md "Life of one request"): the exact name, then the longest
/// matching wildcard (`*.example.com` matches `a.example.com` and `a.b.example.com`, never `example.com`), then
/// the catch-all. A name `*` in an entry makes that entry the catch-all when `fallback` is `nil`. Names compare
/// case-insensitively; a trailing dot is not normalised (Istio does not either). No match, or no SNI and no
/// catch-all, fails the handshake with an `unrecognized_name` alert and the connection is closed.
///
/// Lookup structures are chosen here once: a dictionary for exact names and a longest-first suffix list for
/// wildcards (STYLE.md §9); a Gateway port rarely carries more than a handful of wildcards.
public final class TLSServerNameSelector: Sendable {
    private let exact: [String: TLSContext]
    /// Wildcard suffixes including the leading dot (`.example.com`), longest first.
    private let wildcards: [(suffix: String, context: TLSContext)]
    private let fallback: TLSContext?
    /// The context a connection starts with, before the ClientHello is seen.
    let initialContext: TLSContext?

    /// Creates a selector. When a name appears in several entries, the first entry keeps it (Istio skips a later
    /// server whose host repeats an earlier one, §1.5).
    public init(entries: [(names: [String], context: TLSContext)], fallback: TLSContext?) {
        var exact: [String: TLSContext] = [:]
        var wildcards: [(suffix: String, context: TLSContext)] = []
        var seenSuffixes: Set<String> = []
        var catchAll = fallback
        for entry in entries {
            for rawName in entry.names {
                let name = rawName.lowercased()
                if name == "*" {
                    catchAll = catchAll ?? entry.context
                } else if name.hasPrefix("*.") {
                    let suffix = String(name.dropFirst())
                    if seenSuffixes.insert(suffix).inserted {
                        wildcards.append((suffix, entry.context))
                    }
                } else if exact[name] == nil {
                    exact[name] = entry.context
                }
            }
        }
        // Stable sort: equal lengths keep the entry order.
        self.wildcards = wildcards.enumerated()
            .sorted { ($0.element.suffix.utf8.count, -$0.offset) > ($1.element.suffix.utf8.count, -$1.offset) }
            .map(\.element)
        self.exact = exact
        self.fallback = catchAll
        self.initialContext = catchAll ?? entries.first?.context
    }

    /// The context for `serverName` (the SNI, `nil` when the client sent none), or `nil` to refuse.
    public func context(forServerName serverName: String?) -> TLSContext? {
        guard let serverName, !serverName.isEmpty else {
            return self.fallback
        }
        let name = serverName.lowercased()
        if let context = self.exact[name] {
            return context
        }
        for wildcard in self.wildcards where name.utf8.count > wildcard.suffix.utf8.count {
            if name.hasSuffix(wildcard.suffix) {
                return wildcard.context
            }
        }
        return self.fallback
    }
}
