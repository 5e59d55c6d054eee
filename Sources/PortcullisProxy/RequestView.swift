import PortcullisRouting

/// The routing view of one downstream request: normalized path, raw query, scheme and authority, and header
/// lookups straight over the parsed head (no dictionary is built per request).
struct RequestView: RoutableRequest {
    let method: String
    let path: String
    let query: Substring?
    let scheme: String
    let authority: String
    let headers: HTTPHeaderList

    func headerValue(_ lowercasedName: String) -> String? {
        if lowercasedName.first == ":" {
            switch lowercasedName {
            case ":method": return self.method
            case ":path": return self.query.map { "\(self.path)?\($0)" } ?? self.path
            case ":authority": return self.authority
            case ":scheme": return self.scheme
            default: return nil
            }
        }
        return self.headers.joined(lowercasedName)
    }
}

extension RequestView {
    /// Splits a request target into the normalized path and the raw query; nil when the path is unacceptable.
    static func split(target: String, form: HTTP1RequestHead.TargetForm) -> (path: String, query: Substring?)? {
        var rest = Substring(target)
        if case .absolute = form {
            // `scheme://authority/path?query`: drop scheme and authority; the parser has already used the authority.
            guard let schemeEnd = rest.range(of: "://") else { return nil }
            rest = rest[schemeEnd.upperBound...]
            if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                rest = rest[slash...]
            } else {
                rest = "/"
            }
            if rest.first == "?" { rest = "/" + rest }
        }
        if rest.utf8.contains(UInt8(ascii: "#")) { return nil }
        let path: Substring
        let query: Substring?
        if let q = rest.firstIndex(of: "?") {
            path = rest[..<q]
            query = rest[rest.index(after: q)...]
        } else {
            path = rest
            query = nil
        }
        guard path.first == "/", let normalized = PathNormalizer.normalize(path) else { return nil }
        return (normalized, query)
    }
}

extension String {
    /// Escapes `"` for use inside a quoted header element.
    var replacingQuotes: String {
        self.utf8.contains(UInt8(ascii: "\"")) ? self.split(separator: "\"", omittingEmptySubsequences: false)
            .joined(separator: "\\\"") : self
    }
}
