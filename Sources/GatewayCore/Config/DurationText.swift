/// Durations as written in the config file and on the command line:
/// one or more `<digits><unit>` groups, units `d`, `h`, `m`, `s`, `ms`, each
/// unit at most once and from largest to smallest (`"1h30m"`, `"1m30s"`,
/// `"250ms"`). No sign, no spaces, no fractions: what an operator writes is
/// what the gateway uses, in whole milliseconds.
public enum DurationText {
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        /// A character that is neither a digit nor a unit (also `-`, `+`, space, `.`).
        case unexpectedCharacter(Character)
        /// Digits with no unit after them (`"30"`).
        case missingUnit
        /// A unit with no digits before it (`"s"`, `"1hm"`).
        case missingNumber
        case unknownUnit(String)
        /// A unit repeated or smaller before larger (`"30s1m"`).
        case unitsOutOfOrder
        case overflow
        /// Zero where a positive duration is required.
        case zero

        public var description: String {
            switch self {
            case .empty: return "empty duration"
            case .unexpectedCharacter(let c):
                return "unexpected character \"\(c)\" (write e.g. \"30s\", \"1m30s\", \"250ms\")"
            case .missingUnit: return "missing unit (ms, s, m, h or d)"
            case .missingNumber: return "missing number before unit"
            case .unknownUnit(let u): return "unknown unit \"\(u)\" (use ms, s, m, h or d)"
            case .unitsOutOfOrder: return "units must go from largest to smallest, each once"
            case .overflow: return "duration too large (at most 36500d)"
            case .zero: return "duration must be greater than zero"
            }
        }
    }

    /// 100 years: far beyond any sensible setting, and small enough that
    /// `now + duration` can never overflow an Int64 of milliseconds.
    public static let maximumMilliseconds: Int64 = 36_500 * 86_400_000

    /// Parses `text` into milliseconds. `allowZero` admits `"0s"` (and
    /// `"0ms"`, ...) for settings where zero means "off".
    public static func milliseconds(_ text: String, allowZero: Bool = false) throws(ParseError) -> Int64 {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw .empty }
        var total: Int64 = 0
        var i = 0
        var lastRank = Int.max
        while i < bytes.count {
            let numberStart = i
            var number: Int64 = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (m, o1) = number.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(bytes[i] - 0x30))
                if o1 || o2 { throw .overflow }
                number = a
                i += 1
            }
            let unitStart = i
            while i < bytes.count, isLetter(bytes[i]) { i += 1 }
            if unitStart == i {
                if i == bytes.count { throw .missingUnit }
                throw .unexpectedCharacter(character(in: bytes, utf8Offset: i))
            }
            if numberStart == unitStart { throw .missingNumber }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            guard let (rank, factor) = unitInfo(unit) else { throw .unknownUnit(unit) }
            if rank >= lastRank { throw .unitsOutOfOrder }
            lastRank = rank
            let (part, o1) = number.multipliedReportingOverflow(by: factor)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 { throw .overflow }
            total = sum
        }
        if total > maximumMilliseconds { throw .overflow }
        if total == 0, !allowZero { throw .zero }
        return total
    }

    /// The shortest text that parses back to `ms` (`90_000` -> `"1m30s"`,
    /// `0` -> `"0s"`). For summaries and messages.
    public static func format(milliseconds ms: Int64) -> String {
        if ms <= 0 { return ms == 0 ? "0s" : "-" + format(milliseconds: ms == Int64.min ? Int64.max : -ms) }
        var rest = ms
        var out = ""
        for (unit, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            let n = rest / factor
            if n > 0 { out += "\(n)\(unit)"; rest -= n * factor }
        }
        return out
    }

    /// Rank (larger unit, larger rank) and milliseconds per unit.
    private static func unitInfo(_ unit: String) -> (Int, Int64)? {
        switch unit {
        case "d": return (4, 86_400_000)
        case "h": return (3, 3_600_000)
        case "m": return (2, 60_000)
        case "s": return (1, 1_000)
        case "ms": return (0, 1)
        default: return nil
        }
    }

    private static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

    // Every byte before `utf8Offset` is an ASCII digit or letter, so the
    // offset is on a character boundary.
    private static func character(in bytes: [UInt8], utf8Offset: Int) -> Character {
        String(decoding: bytes[utf8Offset...], as: UTF8.self).first ?? "?"
    }
}
