import GatewayCore
import Testing
@testable import GatewayAuth

@Suite struct RefreshPolicyTests {
    /// 1_700_000_000 = quantum start 1_699_999_980 + 20.
    static let now: Int64 = 1_700_000_000
    static let maxSession: Int64 = 72 * 3600

    static var config: RefreshConfig {
        var c = RefreshConfig()
        c.enabled = true
        c.windowMs = 300_000
        c.ttlMs = 900_000
        c.maxSessionMs = 72 * 3_600_000
        c.maxRefreshes = 50
        c.signingKey = "gw"
        return c
    }

    static func token(exp: Int64 = now + 100, iat: Int64? = now - 800, authTime: Int64? = nil, rfc: Int64? = nil,
                      expiredWithinLeeway: Bool = false) -> VerifiedToken {
        VerifiedToken(claims: JSONObject(), sub: "alice", exp: exp, iat: iat, authTime: authTime, rfc: rfc, jti: nil,
                      sid: nil, kid: nil, algorithm: .hs256, expiredWithinLeeway: expiredWithinLeeway)
    }

    func decide(_ t: VerifiedToken, config: RefreshConfig = config, canSign: Bool = true, now: Int64 = now,
                forced: Bool = false) -> RefreshDecision {
        RefreshPolicy.decide(token: t, config: config, canSign: canSign, now: now, forced: forced)
    }

    @Test func windowIsStrictlyLessThan() {
        #expect(decide(Self.token(exp: Self.now + 300)) == .keep)
        #expect(decide(Self.token(exp: Self.now + 299)) == .reissue)
        #expect(decide(Self.token(exp: Self.now + 1)) == .reissue)
        #expect(decide(Self.token(exp: Self.now + 3600)) == .keep)
    }

    @Test func expiredTokensAreNeverRefreshed() {
        #expect(decide(Self.token(exp: Self.now)) == .keep)
        #expect(decide(Self.token(exp: Self.now - 5, expiredWithinLeeway: true)) == .keep)
        #expect(decide(Self.token(exp: Self.now, expiredWithinLeeway: true), forced: true) == .keep)
        // The flag alone is enough, whatever exp says.
        #expect(decide(Self.token(exp: Self.now + 10, expiredWithinLeeway: true)) == .keep)
    }

    @Test func refreshCountCap() {
        #expect(decide(Self.token(rfc: nil)) == .reissue)
        #expect(decide(Self.token(rfc: 49)) == .reissue)
        #expect(decide(Self.token(rfc: 50)) == .cappedCount)
        #expect(decide(Self.token(rfc: 51)) == .cappedCount)
    }

    @Test func sessionAgeCap() {
        #expect(decide(Self.token(authTime: Self.now - (Self.maxSession - 1))) == .reissue)
        #expect(decide(Self.token(authTime: Self.now - Self.maxSession)) == .cappedAge)
        // auth_time wins over iat.
        #expect(decide(Self.token(iat: Self.now - 10, authTime: Self.now - Self.maxSession)) == .cappedAge)
        #expect(decide(Self.token(iat: Self.now - Self.maxSession, authTime: Self.now - 10)) == .reissue)
    }

    @Test func ageFromIatWithoutAuthTime() {
        #expect(decide(Self.token(iat: Self.now - (Self.maxSession - 1), authTime: nil)) == .reissue)
        #expect(decide(Self.token(iat: Self.now - Self.maxSession, authTime: nil)) == .cappedAge)
    }

    @Test func neitherAuthTimeNorIatStartsTheSessionNow() {
        let t = Self.token(iat: nil, authTime: nil)
        #expect(decide(t) == .reissue)
        #expect(RefreshPolicy.sessionStart(t, now: Self.now) == Self.now)
        #expect(RefreshPolicy.reissuedAuthTime(t, now: Self.now) == 1_699_999_980)
    }

    @Test func offWhenDisabledOrNothingCanSign() {
        var off = Self.config
        off.enabled = false
        #expect(decide(Self.token(), config: off) == .keep)
        #expect(decide(Self.token(), canSign: false) == .keep)
        #expect(decide(Self.token(), config: off, forced: true) == .keep)
    }

    @Test func forcedIgnoresTheWindowButNotTheCaps() {
        let far = Self.now + 3600
        #expect(decide(Self.token(exp: far), forced: true) == .reissue)
        #expect(decide(Self.token(exp: far, rfc: 50), forced: true) == .cappedCount)
        #expect(decide(Self.token(exp: far, authTime: Self.now - Self.maxSession), forced: true) == .cappedAge)
    }

    @Test func capsApplyOnlyInsideTheWindowAndAgeIsCheckedFirst() {
        #expect(decide(Self.token(exp: Self.now + 3600, rfc: 50)) == .keep)
        #expect(decide(Self.token(authTime: Self.now - Self.maxSession, rfc: 50)) == .cappedAge)
    }

    @Test func ttlShorterThanTheQuantumNeverIssuesAnExpiredToken() {
        var c = Self.config
        c.windowMs = 5_000
        c.ttlMs = 10_000
        // now is 20 s into its quantum: iat 1_699_999_980 + 10 s is already past.
        #expect(decide(Self.token(exp: Self.now + 4, iat: nil), config: c) == .keep)
        let atStart: Int64 = 1_699_999_980
        #expect(decide(Self.token(exp: atStart + 4, iat: nil), config: c, now: atStart) == .reissue)
    }

    @Test func extremeTimesDoNotTrap() {
        #expect(decide(Self.token(authTime: Int64.min)) == .cappedAge)
        #expect(decide(Self.token(iat: Int64.min, authTime: nil)) == .cappedAge)
        #expect(decide(Self.token(authTime: Int64.max)) == .reissue)
        #expect(decide(Self.token(authTime: Self.now + 1000)) == .reissue)
        #expect(decide(Self.token(exp: Int64.max)) == .keep)
        #expect(decide(Self.token(exp: Int64.max), now: Int64.min) == .keep)
        #expect(decide(Self.token(exp: Self.now + 5, rfc: Int64.max)) == .cappedCount)
    }

    @Test func quantumFloorsAlsoBelowZero() {
        #expect(RefreshPolicy.quantumStart(0) == 0)
        #expect(RefreshPolicy.quantumStart(29) == 0)
        #expect(RefreshPolicy.quantumStart(30) == 30)
        #expect(RefreshPolicy.quantumStart(-1) == -30)
        #expect(RefreshPolicy.quantumStart(-30) == -30)
        #expect(RefreshPolicy.quantumStart(Self.now) == 1_699_999_980)
    }

    @Test func reissuedTimes() {
        let t = Self.token(iat: Self.now - 800, authTime: Self.now - 3600)
        #expect(RefreshPolicy.reissuedIssuedAt(t, now: Self.now) == 1_699_999_980)
        #expect(RefreshPolicy.reissuedExpiry(t, config: Self.config, now: Self.now) == 1_699_999_980 + 900)
        // iat never moves before the old token's own iat.
        let fresh = Self.token(iat: Self.now - 5)
        #expect(RefreshPolicy.reissuedIssuedAt(fresh, now: Self.now) == Self.now - 5)
        // Capped by the session end.
        let old = Self.token(authTime: Self.now - Self.maxSession + 100)
        #expect(RefreshPolicy.reissuedExpiry(old, config: Self.config, now: Self.now) == Self.now + 100)
        #expect(RefreshPolicy.reissuedExpiry(Self.token(authTime: Int64.max), config: Self.config, now: Self.now)
                == 1_699_999_980 + 900)
    }
}
