/// When JWKS fetches happen (SPEC §3, `jwks_url`), as pure functions of
/// times and counts so the rules are tested without sockets or clocks.
enum KeyRefreshSchedule {
    /// Floor under a server's `Cache-Control: max-age`, so a document served
    /// with `max-age=0` is not polled in a tight loop.
    static let minimumMaxAgeMs: Int64 = 30_000
    /// First retry delay after a failed fetch; doubles per failure.
    static let firstRetryMs: Int64 = 1_000
    /// Cap of the retry backoff.
    static let maximumRetryMs: Int64 = 30_000
    /// A fetch triggered by an unknown kid runs at most once per this window.
    static let triggerWindowMs: Int64 = 30_000

    /// Delay until the next fetch after a good one: min(refresh_interval,
    /// max(max-age, 30 s)); refresh_interval alone without max-age.
    static func delayAfterSuccess(refreshIntervalMs: Int64, maxAgeSeconds: Int64?) -> Int64 {
        let interval = max(1, refreshIntervalMs)
        guard let maxAgeSeconds else { return interval }
        let (ms, overflow) = max(0, maxAgeSeconds).multipliedReportingOverflow(by: 1000)
        return min(interval, max(overflow ? Int64.max : ms, minimumMaxAgeMs))
    }

    /// Delay until the retry after `failures` consecutive failed fetches
    /// (1 for the first): min(refresh_interval, 1 s doubling up to 30 s).
    /// The same backoff applies whether or not an older set still serves.
    static func delayAfterFailure(refreshIntervalMs: Int64, failures: Int) -> Int64 {
        let doublings = max(0, min(failures - 1, 16))  // 2^16 s is far past the cap
        let backoff = min(firstRetryMs << Int64(doublings), maximumRetryMs)
        return min(max(1, refreshIntervalMs), backoff)
    }

    /// Whether an unknown kid may trigger a fetch at `nowMs`, given when the
    /// last triggered fetch started (nil: none yet; the fetch at start does
    /// not count).
    static func allowsTrigger(nowMs: Int64, lastTriggerMs: Int64?) -> Bool {
        guard let lastTriggerMs else { return true }
        // A clock stepped backwards does not lock triggers out for good.
        return nowMs - lastTriggerMs >= triggerWindowMs || nowMs < lastTriggerMs
    }
}
