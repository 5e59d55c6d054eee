/// Request or response header operations of a route or destination (ISTIO-SEMANTICS §2.4).
///
/// Removals run before `set`/`add`; `set` overwrites or adds, `add` appends. Host/`:authority` writes never
/// appear here: the compiler turns them into an authority rewrite.
public struct HeaderMutation: Sendable {
    /// Lower-cased header names to drop.
    public let remove: [String]
    /// Overwrite-or-add, in declaration order.
    public let set: [(name: String, value: String)]
    /// Append, in declaration order.
    public let add: [(name: String, value: String)]

    public init(
        remove: [String] = [], set: [(name: String, value: String)] = [], add: [(name: String, value: String)] = []
    ) {
        self.remove = remove
        self.set = set
        self.add = add
    }

    /// True when applying this mutation changes nothing, so the proxy can skip it.
    public var isEmpty: Bool { self.remove.isEmpty && self.set.isEmpty && self.add.isEmpty }

    public static let empty = HeaderMutation()
}
