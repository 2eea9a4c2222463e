import Testing
@testable import GatewayProxy

@Suite struct KeysRefreshScheduleTests {
    typealias S = KeyRefreshSchedule

    @Test func successWithoutMaxAgeUsesRefreshInterval() {
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: nil) == 300_000)
        #expect(S.delayAfterSuccess(refreshIntervalMs: 5_000, maxAgeSeconds: nil) == 5_000)
    }

    @Test func maxAgeShortensTheIntervalButNotBelow30s() {
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: 60) == 60_000)
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: 0) == 30_000)
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: 10) == 30_000)
    }

    @Test func refreshIntervalCapsALongMaxAge() {
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: 86_400) == 300_000)
        #expect(S.delayAfterSuccess(refreshIntervalMs: 300_000, maxAgeSeconds: Int64.max) == 300_000)
    }

    @Test func shortRefreshIntervalWinsOverTheMaxAgeFloor() {
        // min(refresh_interval, max(max-age, 30 s)): a 5 s interval stays 5 s.
        #expect(S.delayAfterSuccess(refreshIntervalMs: 5_000, maxAgeSeconds: 0) == 5_000)
        #expect(S.delayAfterSuccess(refreshIntervalMs: 5_000, maxAgeSeconds: 600) == 5_000)
    }

    @Test func backoffDoublesFrom1sTo30s() {
        let delays = (1...8).map { S.delayAfterFailure(refreshIntervalMs: 300_000, failures: $0) }
        #expect(delays == [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000])
        #expect(S.delayAfterFailure(refreshIntervalMs: 300_000, failures: 10_000) == 30_000)
        #expect(S.delayAfterFailure(refreshIntervalMs: 300_000, failures: 0) == 1_000)
    }

    @Test func backoffIsCappedByRefreshInterval() {
        let delays = (1...5).map { S.delayAfterFailure(refreshIntervalMs: 3_000, failures: $0) }
        #expect(delays == [1_000, 2_000, 3_000, 3_000, 3_000])
    }

    @Test func firstTriggerIsAllowed() {
        #expect(S.allowsTrigger(nowMs: 1_000, lastTriggerMs: nil))
    }

    @Test func triggerThrottledFor30s() {
        #expect(!S.allowsTrigger(nowMs: 10_000, lastTriggerMs: 10_000))
        #expect(!S.allowsTrigger(nowMs: 39_999, lastTriggerMs: 10_000))
        #expect(S.allowsTrigger(nowMs: 40_000, lastTriggerMs: 10_000))
    }

    @Test func clockSteppedBackDoesNotBlockForever() {
        #expect(S.allowsTrigger(nowMs: 5_000, lastTriggerMs: 10_000))
    }
}
