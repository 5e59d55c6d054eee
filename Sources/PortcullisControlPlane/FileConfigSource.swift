import Foundation
import NIOConcurrencyHelpers
import PortcullisModel

/// Config from files and directories, with hot reload.
///
/// Watching polls the modification time, size and inode of every file under the configured paths (and the set of
/// files itself) once per `interval`: portable, cheap for a few hundred files, and it sees Kubernetes ConfigMap
/// symlink swaps that inotify on the old inode would miss. Each change yields a freshly loaded result; parsing
/// happens here, off the event loops.
public struct FileConfigSource: Sendable {
    public let paths: [String]
    public let loader: ConfigLoader
    public let interval: Duration
    /// Files outside the config paths whose changes also trigger a reload: the certificates and keys the config
    /// references, so rotating them reaches new handshakes without a restart.
    public let extraFiles = NIOLockedValueBox<[String]>([])

    public init(paths: [String], loader: ConfigLoader, interval: Duration = .milliseconds(500)) {
        self.paths = paths
        self.loader = loader
        self.interval = interval
    }

    /// Loads the current content once.
    public func load() -> ConfigLoadResult {
        self.loader.load(paths: self.paths)
    }

    /// A fingerprint of every config file's identity and content version.
    public func fingerprint() -> [String: String] {
        var result: [String: String] = [:]
        let fm = FileManager.default
        for path in self.paths {
            for file in Self.configFiles(under: path, fileManager: fm) {
                result[file] = Self.stamp(of: file, fileManager: fm)
            }
        }
        for file in self.extraFiles.withLockedValue({ $0 }) {
            result["extra:" + file] = Self.stamp(of: file, fileManager: fm)
        }
        return result
    }

    /// Modification time, size and inode of one file ("missing" when it does not exist).
    public static func stamp(of file: String, fileManager fm: FileManager = .default) -> String {
        guard let attributes = try? fm.attributesOfItem(atPath: file) else { return "missing" }
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? -1
        return "\(mtime)/\(size)/\(inode)"
    }

    /// Yields a load result every time the files change (the first element is the initial load).
    public func updates() -> AsyncStream<ConfigLoadResult> {
        let source = self
        return AsyncStream { continuation in
            let task = Task {
                var last = source.fingerprint()
                continuation.yield(source.load())
                while !Task.isCancelled {
                    try? await Task.sleep(for: source.interval)
                    let now = source.fingerprint()
                    if now != last {
                        last = now
                        continuation.yield(source.load())
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func configFiles(under path: String, fileManager fm: FileManager) -> [String] {
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        if !isDirectory.boolValue { return [path] }
        guard let enumerator = fm.enumerator(atPath: path) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let lower = relative.lowercased()
            if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower.hasSuffix(".json") {
                files.append((path as NSString).appendingPathComponent(relative))
            }
        }
        return files.sorted()
    }
}
