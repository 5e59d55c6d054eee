import Foundation
import NIOConcurrencyHelpers
import PortcullisControlPlane
import PortcullisModel

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
/// Polls `condition` until it holds or `timeout` passes. Generous on purpose: the whole suite shares two cores,
/// and integration tests block cooperative threads while their curl processes run.
func eventually(_ timeout: Duration = .seconds(120), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Collects what a callback publishes.
final class Recorder<Value: Sendable>: Sendable {
    private let box = NIOLockedValueBox<[Value]>([])

    var values: [Value] { self.box.withLockedValue { $0 } }
    var count: Int { self.box.withLockedValue { $0.count } }
    var last: Value? { self.box.withLockedValue { $0.last } }

    func append(_ value: Value) {
        self.box.withLockedValue { $0.append(value) }
    }
}

/// Fast retries for tests: 20 ms doubling to 200 ms, no jitter.
let testBackoff = KubernetesBackoff(initial: .milliseconds(20), maximum: .milliseconds(200), jitter: 0)

/// A JSON value from literal text (test data).
func json(_ text: String) -> KubernetesJSON {
    do {
        return try KubernetesJSON.parse(text)
    } catch {
        fatalError("bad test JSON \(text): \(error)")
    }
}

/// A minimal valid Gateway spec.
let gatewaySpec = json(
    #"{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":80,"name":"http","protocol":"HTTP"},"#
        + #""hosts":["*"]}]}"#)

/// A minimal valid VirtualService spec bound to Gateway `gw` and routing to `host`.
func virtualServiceSpec(host: String = "backend.default.svc.cluster.local") -> KubernetesJSON {
    json(
        #"{"hosts":["*"],"gateways":["gw"],"http":[{"route":[{"destination":{"host":"\#(host)","#
            + #""port":{"number":8080}}}]}]}"#)
}
