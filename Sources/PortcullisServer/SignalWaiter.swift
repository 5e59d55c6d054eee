import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Waits for SIGTERM or SIGINT without a signal handler doing real work (DispatchSource delivers them on a
/// queue).
enum SignalWaiter {
    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "portcullis.signals")
            let resumed = ManagedFlag()
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler {
                    if resumed.setOnce() { continuation.resume() }
                }
                source.resume()
                sources.append(source)
            }
            SignalSources.keep(sources)
        }
    }
}

/// Keeps signal sources alive for the process lifetime.
private enum SignalSources {
    nonisolated(unsafe) static var retained: [DispatchSourceSignal] = []
    static func keep(_ sources: [DispatchSourceSignal]) { self.retained += sources }
}

/// A flag set once, safe across threads (signal sources fire on one serial queue).
private final class ManagedFlag: @unchecked Sendable {
    private var set = false
    func setOnce() -> Bool {
        if self.set { return false }
        self.set = true
        return true
    }
}
