/// What the router needs from a request; the proxy conforms its own request-head type.
///
/// Every value is read as-is: normalization (ISTIO-SEMANTICS §5.6, HARDENING B5) happens before routing.
public protocol RoutableRequest {
    /// `:method`, compared case-sensitively (§2.3).
    var method: String { get }
    /// Normalized path without the query string.
    var path: String { get }
    /// Raw query without the leading `?`; nil when the request has none.
    var query: Substring? { get }
    /// `http` or `https`, from the downstream connection.
    var scheme: String { get }
    /// Raw `Host`/`:authority`, including any port.
    var authority: String { get }
    /// All values of the header joined with `,`; nil when absent. `lowercasedName` is already lower-case.
    func headerValue(_ lowercasedName: String) -> String?
}
