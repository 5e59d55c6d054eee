import NIOCore
import PortcullisUpstream
import Testing

/// Passive ejection (ISTIO-SEMANTICS §3.4), with time passed in explicitly.
@Suite struct OutlierTrackerTests {
    let start = NIODeadline.uptimeNanoseconds(0)

    func at(_ seconds: Int64) -> NIODeadline { self.start + .seconds(seconds) }

    func record(_ tracker: OutlierTracker, _ statuses: [Int], endpoint: Int = 0, at time: Int64 = 0) {
        for status in statuses { tracker.record(.response(status: status), endpoint: endpoint, now: self.at(time)) }
    }

    @Test func consecutive5xxEjectsAndSuccessResetsTheRun() {
        let tracker = OutlierTracker(policy: OutlierPolicy(maxEjectionPercent: 100), endpointCount: 2)
        self.record(tracker, [500, 503, 500, 502, 200, 500, 500, 500, 500])
        #expect(!tracker.isEjected(0, now: self.at(0)))
        self.record(tracker, [500])
        #expect(tracker.isEjected(0, now: self.at(0)))
        #expect(!tracker.isEjected(1, now: self.at(0)))
        #expect(tracker.ejectedCount == 1)
    }

    @Test func gatewayErrorsEjectSoonerAndOther5xxResetThem() {
        let policy = OutlierPolicy(consecutiveGatewayErrors: 3, maxEjectionPercent: 100)
        let tracker = OutlierTracker(policy: policy, endpointCount: 1)
        self.record(tracker, [502, 503, 500, 504])
        #expect(!tracker.isEjected(0, now: self.at(0)))
        tracker.record(.connectFailure, endpoint: 0, now: self.at(0))
        tracker.record(.timeout, endpoint: 0, now: self.at(0))
        #expect(tracker.isEjected(0, now: self.at(0)))
    }

    @Test func maxEjectionPercentCapsEjections() {
        let small = OutlierTracker(policy: OutlierPolicy(), endpointCount: 3)
        self.record(small, Array(repeating: 500, count: 5))
        #expect(!small.isEjected(0, now: self.at(0)))
        let large = OutlierTracker(policy: OutlierPolicy(), endpointCount: 10)
        self.record(large, Array(repeating: 500, count: 5), endpoint: 0)
        self.record(large, Array(repeating: 500, count: 5), endpoint: 1)
        #expect(large.isEjected(0, now: self.at(0)))
        #expect(!large.isEjected(1, now: self.at(0)))
    }

    @Test func ejectionLastsBaseTimeTimesCountAndEndsOnASweep() {
        let policy = OutlierPolicy(interval: .seconds(10), baseEjectionTime: .seconds(30), maxEjectionPercent: 100)
        let tracker = OutlierTracker(policy: policy, endpointCount: 1)
        self.record(tracker, Array(repeating: 500, count: 5), at: 0)
        #expect(tracker.isEjected(0, now: self.at(29)))
        // Ejection time is up at 30 s; the sweep at 30 s brings the endpoint back.
        #expect(!tracker.isEjected(0, now: self.at(30)))
        self.record(tracker, Array(repeating: 500, count: 5), at: 31)
        #expect(tracker.ejectionCount(0) == 2)
        #expect(tracker.isEjected(0, now: self.at(90)))
        #expect(!tracker.isEjected(0, now: self.at(100)))
    }

    @Test func healthySweepsDecayTheEjectionCount() {
        let policy = OutlierPolicy(interval: .seconds(10), baseEjectionTime: .seconds(10), maxEjectionPercent: 100)
        let tracker = OutlierTracker(policy: policy, endpointCount: 1)
        self.record(tracker, Array(repeating: 500, count: 5), at: 0)
        #expect(!tracker.isEjected(0, now: self.at(10)))
        #expect(tracker.ejectionCount(0) == 1)
        #expect(!tracker.isEjected(0, now: self.at(20)))
        #expect(tracker.ejectionCount(0) == 0)
    }

    @Test func splitLocalOriginErrorsCountSeparately() {
        let policy = OutlierPolicy(
            maxEjectionPercent: 100, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2)
        let tracker = OutlierTracker(policy: policy, endpointCount: 1)
        self.record(tracker, [500, 500, 500, 500])
        tracker.record(.connectFailure, endpoint: 0, now: self.at(0))
        #expect(!tracker.isEjected(0, now: self.at(0)))
        tracker.record(.reset, endpoint: 0, now: self.at(0))
        #expect(tracker.isEjected(0, now: self.at(0)))
    }

    @Test func zeroThresholdDisablesDetection() {
        let tracker = OutlierTracker(
            policy: OutlierPolicy(consecutive5xx: 0, maxEjectionPercent: 100), endpointCount: 1)
        self.record(tracker, Array(repeating: 500, count: 50))
        #expect(!tracker.isEjected(0, now: self.at(0)))
    }
}
