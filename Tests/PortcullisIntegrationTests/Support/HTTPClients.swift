import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command and returns its exit status and stdout (stderr discarded unless asked).
enum Command {
    static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData, as: UTF8.self)
        )
    }
}

/// curl, the real client: `curl -s -o - -D - ...` parsed into status, headers and body.
struct CurlResult {
    var exitCode: Int32
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        self.headers.last { $0.0.lowercased() == name.lowercased() }?.1
    }
}

enum Curl {
    static func request(_ arguments: [String]) throws -> CurlResult {
        let (code, out, _) = try Command.run("/usr/bin/curl", ["-s", "-S", "-D", "-", "--max-time", "20"] + arguments)
        // The dump holds every header block (100 Continue first); the last one is the final response.
        var rest = Substring(out)
        var status = 0
        var headers: [(String, String)] = []
        while rest.hasPrefix("HTTP/") {
            guard let end = rest.range(of: "\r\n\r\n") else { break }
            let block = rest[..<end.lowerBound]
            rest = rest[end.upperBound...]
            let lines = block.split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusParts = lines[0].split(separator: " ")
            status = statusParts.count > 1 ? Int(statusParts[1]) ?? 0 : 0
            headers = lines.dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (
                    String(line[..<colon]),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                )
            }
        }
        return CurlResult(exitCode: code, status: status, headers: headers, body: String(rest))
    }

    static func get(_ url: String, _ extra: [String] = []) throws -> CurlResult {
        try self.request(extra + [url])
    }
}

/// Minimal HTTP GET for the admin port (no curl process per poll).
enum HTTP {
    static func get(port: Int, path: String) async throws -> (Int, String) {
        let raw = try RawClient.exchange(port: port, bytes: "GET \(path) HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        guard let firstLine = raw.split(separator: "\r\n").first else { throw TestFailure("empty response") }
        let parts = firstLine.split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let body = raw.range(of: "\r\n\r\n").map { String(raw[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}

/// Writes exact bytes to a TCP port and reads until the peer closes (or a timeout), for framing tests.
enum RawClient {
    static func exchange(port: Int, bytes: String, timeoutSeconds: Int = 5) throws -> String {
        try self.exchange(port: port, data: Array(bytes.utf8), timeoutSeconds: timeoutSeconds)
    }

    static func exchange(port: Int, data: [UInt8], timeoutSeconds: Int = 5) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw TestFailure("connect to \(port) failed") }
        var offset = 0
        while offset < data.count {
            let n = data[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            offset += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: received, as: UTF8.self)
    }
}
