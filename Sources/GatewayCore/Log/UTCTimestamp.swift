/// RFC 3339 timestamps (`2026-11-23T10:50:22.123Z`) from unix milliseconds,
/// by calendar arithmetic: no Foundation, no time zone database, no cache.
public enum UTCTimestamp {
    /// Earliest and latest instants with a four-digit year (0000-01-01T00:00:00.000Z
    /// and 9999-12-31T23:59:59.999Z); values outside are clamped to them, since
    /// RFC 3339 §5.6 `date-fullyear` has exactly four digits.
    public static let minUnixMs: Int64 = -62_167_219_200_000
    public static let maxUnixMs: Int64 = 253_402_300_799_999

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (always UTC, always milliseconds).
    public static func appendRFC3339(unixMs: Int64, into out: inout [UInt8]) {
        let ms = min(max(unixMs, minUnixMs), maxUnixMs)
        let msPerDay: Int64 = 86_400_000
        // Floor division, so instants before 1970 land on the right day.
        var days = ms / msPerDay
        var msOfDay = ms % msPerDay
        if msOfDay < 0 { msOfDay += msPerDay; days -= 1 }
        let (y, m, d) = civilDate(daysSinceEpoch: days)

        LogEscaping.appendPadded(y, width: 4, into: &out)
        out.append(UInt8(ascii: "-"))
        LogEscaping.appendPadded(m, width: 2, into: &out)
        out.append(UInt8(ascii: "-"))
        LogEscaping.appendPadded(d, width: 2, into: &out)
        out.append(UInt8(ascii: "T"))
        let t = Int(msOfDay)
        LogEscaping.appendPadded(t / 3_600_000, width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        LogEscaping.appendPadded(t / 60_000 % 60, width: 2, into: &out)
        out.append(UInt8(ascii: ":"))
        LogEscaping.appendPadded(t / 1000 % 60, width: 2, into: &out)
        out.append(UInt8(ascii: "."))
        LogEscaping.appendPadded(t % 1000, width: 3, into: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// The same as a String (tests, operational messages).
    public static func rfc3339(unixMs: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendRFC3339(unixMs: unixMs, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Proleptic Gregorian (year, month 1-12, day 1-31) of a day count from
    /// 1970-01-01.
    ///
    /// The calendar repeats every 400 years (146 097 days). Counting years from
    /// March 1 puts the leap day at the very end of a year, so within a cycle
    /// the day of the year maps to a month by a fixed linear formula (month
    /// lengths from March run 31 30 31 30 31 31 30 31 30 31 31 28/29, which
    /// `(153 * m + 2) / 5` reproduces), and the year within the cycle follows
    /// from the day of the cycle after removing the leap days before it.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int, month: Int, day: Int) {
        // Shift the origin to 0000-03-01: 719 468 days before 1970-01-01.
        let shifted = daysSinceEpoch + 719_468
        let cycle = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfCycle = shifted - cycle * 146_097                       // 0...146096
        // Remove one day per 4 years, add back one per 100, remove per 400
        // (the cycle's last day), leaving a count of 365-day years.
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1_460 + dayOfCycle / 36_524 - dayOfCycle / 146_096) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100) // 0...365, from Mar 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153                      // 0...11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfCycle + cycle * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}
