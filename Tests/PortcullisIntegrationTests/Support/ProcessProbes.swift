import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of a process from `/proc/PID/status`, in KiB: current (`VmRSS`) and peak (`VmHWM`).
enum ProcessMemory {
    static func kibibytes(pid: Int32, field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") }),
            let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first,
            let kib = Int(value)
        else { throw TestFailure("no \(field) in /proc/\(pid)/status") }
        return kib
    }

    static func resident(pid: Int32) throws -> Int { try self.kibibytes(pid: pid, field: "VmRSS") }
    static func peak(pid: Int32) throws -> Int { try self.kibibytes(pid: pid, field: "VmHWM") }
}

/// TCP states from `/proc/net/tcp`, to see what the kernel knows of a connection the client is not reading.
enum LoopbackSockets {
    /// The state (hex, e.g. `01` ESTABLISHED, `04` FIN_WAIT1) of the IPv4 socket bound to `localPort` and
    /// connected to `remotePort`, or nil once it is gone.
    static func state(localPort: Int, remotePort: Int) -> String? {
        guard let table = self.readAll("/proc/net/tcp") else { return nil }
        let local = self.hexPort(localPort)
        let remote = self.hexPort(remotePort)
        for row in table.split(separator: "\n").dropFirst() {
            let columns = row.split(separator: " ")
            guard columns.count > 3, columns[1].hasSuffix(local), columns[2].hasSuffix(remote) else { continue }
            return String(columns[3])
        }
        return nil
    }

    /// Reads a file to its end with plain `read` calls: `/proc` tables report a size of 0 and come a page at a
    /// time, so a read sized from `stat` would miss most of the rows.
    private static func readAll(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `:1F90` for 8080, as the table writes ports.
    private static func hexPort(_ port: Int) -> String {
        let hex = String(port, radix: 16, uppercase: true)
        return ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
