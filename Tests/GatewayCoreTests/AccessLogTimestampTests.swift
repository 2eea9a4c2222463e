import Testing
@testable import GatewayCore

/// UTCTimestamp (the access log's `time` field).
@Suite struct AccessLogTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_709_210_096_789, "2024-02-29T12:34:56.789Z"),    // leap day
        (1_795_431_022_123, "2026-11-23T10:50:22.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),      // 400-year leap
        (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),    // 2100 is not leap...
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),    // ...so March follows Feb 28
        (1_735_689_599_999, "2024-12-31T23:59:59.999Z"),    // day 366
        (-1, "1969-12-31T23:59:59.999Z"),                   // floor, not truncation
        (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (Int64.min, "0000-01-01T00:00:00.000Z"),            // clamped
        (Int64.max, "9999-12-31T23:59:59.999Z"),            // clamped
    ])
    func knownInstants(ms: Int64, text: String) {
        #expect(UTCTimestamp.rfc3339(unixMs: ms) == text)
    }

    @Test func everyDayRoundTripsAcrossFourCenturies() {
        // Walk day by day from 1601-01-01 to 2401-01-01 and check the date
        // increments like a calendar does (month lengths, leap rules).
        var (y, m, d) = (1601, 1, 1)
        let start = -134_774 as Int64  // days from 1970-01-01 back to 1601-01-01
        func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for day in start..<(start + 292_194) {
            let got = UTCTimestamp.civilDate(daysSinceEpoch: day)
            guard got == (y, m, d) else {
                Issue.record("day \(day): got \(got), want \((y, m, d))")
                return
            }
            let len = m == 2 && isLeap(y) ? 29 : lengths[m - 1]
            d += 1
            if d > len { d = 1; m += 1 }
            if m > 12 { m = 1; y += 1 }
        }
        #expect((y, m, d) == (2401, 1, 1))
    }
}
