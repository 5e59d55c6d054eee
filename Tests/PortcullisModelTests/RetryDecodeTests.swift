import Testing

@testable import PortcullisModel

/// `HTTPRetry` decoding (ISTIO-SEMANTICS §2.7.1): an absent or empty `retryOn` means "not set" (nil), never an
/// invalid empty policy; a set list is still validated item by item.
struct RetryDecodeTests {
    private func load(retries: String) -> ConfigLoadResult {
        ConfigLoader().load(
            yaml: """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: r, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [istio-system/gw]
                  http:
                  - route: [{destination: {host: a}}]
                    retries: \(retries)
                """, file: "r.yaml")
    }

    private func messages(_ result: ConfigLoadResult) -> [String] {
        result.errors.map { "\($0.fieldPath): \($0.message)" }
    }

    @Test func zeroAttemptsWithoutRetryOnIsAcceptedAndDisablesRetries() throws {
        let result = self.load(retries: "{attempts: 0}")
        #expect(self.messages(result) == [])
        let retry = try #require(result.config.virtualServices.first?.http.first?.retries)
        #expect(retry.attempts == 0)
        #expect(retry.retryOn == nil)
        #expect(retry.perTryTimeout == nil)
    }

    @Test func attemptsWithoutRetryOnLeaveRetryOnUnset() throws {
        let result = self.load(retries: "{attempts: 3, perTryTimeout: 2s}")
        #expect(self.messages(result) == [])
        let retry = try #require(result.config.virtualServices.first?.http.first?.retries)
        #expect(retry.attempts == 3)
        #expect(retry.retryOn == nil)
        #expect(retry.perTryTimeout == .seconds(2))
    }

    @Test func emptyRetryOnIsTheSameAsUnset() throws {
        let result = self.load(retries: "{attempts: 2, retryOn: \"\"}")
        #expect(self.messages(result) == [])
        let retry = try #require(result.config.virtualServices.first?.http.first?.retries)
        #expect(retry.retryOn == nil)
        // And with attempts 0, an empty retryOn does not count as "a policy configured while disabled".
        #expect(self.messages(self.load(retries: "{attempts: 0, retryOn: \"\"}")) == [])
    }

    @Test func setRetryOnIsStillValidated() throws {
        let ok = self.load(retries: "{attempts: 2, retryOn: \"5xx,connect-failure,503\"}")
        #expect(self.messages(ok) == [])
        #expect(ok.config.virtualServices.first?.http.first?.retries?.retryOn == "5xx,connect-failure,503")
        #expect(
            self.messages(self.load(retries: "{attempts: 2, retryOn: \"5xx,bogus\"}")) == [
                "spec.http[0].retries.retryOn: \"bogus\" is not a valid retryOn policy"
            ])
        // An empty item inside a set list is still an error, as in Istio.
        #expect(
            self.messages(self.load(retries: "{attempts: 2, retryOn: \"5xx,\"}")) == [
                "spec.http[0].retries.retryOn: \"\" is not a valid retryOn policy"
            ])
        #expect(
            self.messages(self.load(retries: "{attempts: 0, retryOn: 5xx}")) == [
                "spec.http[0].retries.attempts: http retry policy configured when attempts are set to 0 (disabled)"
            ])
    }
}
