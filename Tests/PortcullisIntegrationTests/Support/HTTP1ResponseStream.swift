import Foundation

/// Splits the bytes an HTTP/1.1 connection received into responses, framing each body the way a client must
/// (RFC 9112 §6.3): none after HEAD, 1xx, 204 and 304; chunked; content-length; else until close. Body bytes a
/// gateway leaked where none belong show up as a response that does not start with a status line.
struct HTTP1ResponseStream {
    struct Response {
        var statusLine: String
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        var bodyText: String { String(decoding: self.body, as: UTF8.self) }
    }

    /// The final responses to `methods` (one per request, in order); interim 1xx heads are skipped. Fewer come
    /// back when the connection closed cleanly between two responses.
    static func parse(_ raw: [UInt8], methods: [String]) throws -> [Response] {
        var rest = raw[...]
        var responses: [Response] = []
        for method in methods {
            if rest.isEmpty { break }
            var response: Response
            repeat {
                response = try self.head(&rest)
            } while response.status >= 100 && response.status < 200
            if method == "HEAD" || response.status == 204 || response.status == 304 {
                responses.append(response)
                continue
            }
            if response.header("transfer-encoding")?.lowercased() == "chunked" {
                response.body = try self.chunked(&rest)
            } else if let length = response.header("content-length").flatMap({ Int($0) }) {
                guard rest.count >= length else { throw TestFailure("body shorter than \(length): \(rest.count)") }
                response.body = Array(rest.prefix(length))
                rest = rest.dropFirst(length)
            } else {
                response.body = Array(rest)
                rest = rest[rest.endIndex...]
            }
            responses.append(response)
        }
        guard rest.isEmpty else {
            let start = String(decoding: rest.prefix(80), as: UTF8.self)
            throw TestFailure("\(rest.count) bytes after the last response: \(start)")
        }
        return responses
    }

    private static func line(_ rest: inout ArraySlice<UInt8>) throws -> String {
        guard let end = rest.firstRange(of: [13, 10]) else { throw TestFailure("no CRLF in \(rest.count) bytes") }
        let text = String(decoding: rest[..<end.lowerBound], as: UTF8.self)
        rest = rest[end.upperBound...]
        return text
    }

    private static func head(_ rest: inout ArraySlice<UInt8>) throws -> Response {
        let statusLine = try self.line(&rest)
        let parts = statusLine.split(separator: " ")
        guard statusLine.hasPrefix("HTTP/1.1 "), parts.count >= 2, let status = Int(parts[1]) else {
            throw TestFailure("not a status line: \(statusLine.prefix(80))")
        }
        var headers: [(String, String)] = []
        while true {
            let field = try self.line(&rest)
            if field.isEmpty { break }
            guard let colon = field.firstIndex(of: ":") else { throw TestFailure("bad header line: \(field)") }
            let value = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((String(field[..<colon]), value))
        }
        return Response(statusLine: statusLine, status: status, headers: headers, body: [])
    }

    private static func chunked(_ rest: inout ArraySlice<UInt8>) throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try self.line(&rest)
            guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                throw TestFailure("bad chunk size: \(sizeLine)")
            }
            if size == 0 {
                // Trailers, then the empty line.
                while !(try self.line(&rest)).isEmpty {}
                return body
            }
            guard rest.count >= size + 2 else { throw TestFailure("chunk of \(size) cut short") }
            body += rest.prefix(size)
            rest = rest.dropFirst(size + 2)
        }
    }
}
