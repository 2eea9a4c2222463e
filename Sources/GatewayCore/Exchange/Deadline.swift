/// A timeout measured from the last activity, checked lazily: the timer is
/// armed once for the whole period and, when it fires, re-armed for what is
/// left since the last activity. Activity then costs a store of the loop
/// time instead of a timer re-arm per read (the read-gap and tunnel-idle
/// timeouts, SPEC §4.5).
public enum Deadline {
    public enum Verdict: Equatable, Sendable {
        /// Activity happened meanwhile: fire again after this many ms.
        case rearm(afterMs: Int64)
        case expired
    }

    public static func check(lastActivityMs: Int64, nowMs: Int64, limitMs: Int64) -> Verdict {
        let quiet = nowMs - lastActivityMs
        return quiet < limitMs ? .rearm(afterMs: limitMs - max(0, quiet)) : .expired
    }
}
