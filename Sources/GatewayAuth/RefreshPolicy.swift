public import GatewayCore

/// What to do with a token that passed validation (SPEC §6).
public enum RefreshDecision: Sendable, Equatable {
    /// No new token: refresh is off, nothing can sign, the token is expired
    /// (even within leeway), or it is not yet inside the window.
    case keep
    /// Sign a new token (`TokenReissuer`).
    case reissue
    /// Would refresh, but the session is `max_session` old or older.
    case cappedAge
    /// Would refresh, but `rfc` has reached `max_refreshes`.
    case cappedCount
}

/// The transparent-refresh rules (SPEC §6), pure: the clock is `now`
/// (Unix seconds), nothing is read from outside.
///
/// Durations from `RefreshConfig` are used in whole seconds (milliseconds
/// floored), the resolution of JWT NumericDates, so the decision and the
/// reissued `exp` use the very same numbers.
public enum RefreshPolicy {
    /// `iat` of a reissued token is floored to this many seconds, so
    /// requests with one old token inside one quantum get one new token.
    public static let quantumSeconds: Int64 = 30

    /// Decides for `token` (already verified, not revoked).
    ///
    /// Order: `keep` unless `config.enabled && canSign`; `keep` when the
    /// token is expired (`exp <= now`, which includes `expiredWithinLeeway`:
    /// SPEC §5 serves those but never refreshes them); `keep` unless
    /// `exp - now < window` or `forced` (a claim update, SPEC §6, refreshes
    /// whatever the window); then `cappedAge` when the session age
    /// `now - (auth_time ?? iat ?? now)` is `>= max_session`; then
    /// `cappedCount` when `(rfc ?? 0) >= max_refreshes`; else `reissue`.
    ///
    /// Edges: `exp - now == window` is outside the window ("less than",
    /// SPEC §6); an age of exactly `max_session` is capped ("younger than");
    /// `rfc == max_refreshes - 1` still reissues (giving `rfc ==
    /// max_refreshes`). A token with neither `auth_time` nor `iat` has age 0
    /// (its session starts now; the reissued token's `auth_time` is then the
    /// reissue quantum, see `TokenReissuer`). A session start in the future
    /// (clock skew at the issuer) gives a negative age: not capped. Finally, `keep` when the
    /// reissued token would already be expired at `now` (only possible with a
    /// `ttl` shorter than the 30 s quantum).
    public static func decide(token: VerifiedToken, config: RefreshConfig, canSign: Bool, now: Int64,
                              forced: Bool = false) -> RefreshDecision {
        guard config.enabled, canSign else { return .keep }
        // RFC 7519 §4.1.4: at `exp` the token is no longer valid.
        guard !token.expiredWithinLeeway, token.exp > now else { return .keep }
        if !forced {
            let (remaining, overflow) = token.exp.subtractingReportingOverflow(now)
            guard !overflow, remaining < seconds(config.windowMs) else { return .keep }
        }
        let start = sessionStart(token, now: now)
        let (age, overflow) = now.subtractingReportingOverflow(start)
        if overflow ? start < now : age >= seconds(config.maxSessionMs) { return .cappedAge }
        guard (token.rfc ?? 0) < Int64(config.maxRefreshes) else { return .cappedCount }
        guard reissuedExpiry(token, config: config, now: now) > now else { return .keep }
        return .reissue
    }

    /// When the session began: `auth_time`, else `iat`, else `now`.
    public static func sessionStart(_ token: VerifiedToken, now: Int64) -> Int64 {
        token.authTime ?? token.iat ?? now
    }

    /// The start of the quantum holding `now` (floor, also for negative times).
    public static func quantumStart(_ now: Int64) -> Int64 {
        let r = now % quantumSeconds
        return r < 0 ? now - r - quantumSeconds : now - r
    }

    /// `iat` of the token reissued from `token` at `now`: `now` floored to
    /// the quantum, but never earlier than the old token's own `iat`. The
    /// floor alone could move `iat` before a "revoke `sub` before T"
    /// (SPEC §7) that the old token escaped, revoking a session that began
    /// after the revocation; the old `iat` is part of the old token, so the
    /// result still depends only on the old token and the quantum.
    public static func reissuedIssuedAt(_ token: VerifiedToken, now: Int64) -> Int64 {
        max(quantumStart(now), token.iat ?? Int64.min)
    }

    /// `auth_time` of the reissued token: kept, else the old `iat`, else the
    /// new `iat` (deterministic within the quantum, unlike `now`).
    public static func reissuedAuthTime(_ token: VerifiedToken, now: Int64) -> Int64 {
        token.authTime ?? token.iat ?? reissuedIssuedAt(token, now: now)
    }

    /// `exp` of the reissued token: min(iat + ttl, auth_time + max_session),
    /// saturating instead of overflowing.
    public static func reissuedExpiry(_ token: VerifiedToken, config: RefreshConfig, now: Int64) -> Int64 {
        let iat = reissuedIssuedAt(token, now: now)
        let authTime = reissuedAuthTime(token, now: now)
        return min(saturatingAdd(iat, seconds(config.ttlMs)), saturatingAdd(authTime, seconds(config.maxSessionMs)))
    }

    static func seconds(_ milliseconds: Int64) -> Int64 { milliseconds / 1000 }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard overflow else { return sum }
        return b > 0 ? Int64.max : Int64.min
    }
}
