import GatewayAuth
import Testing

/// A verified token with only the claims the view reads.
func revocationTestToken(jti: String? = nil, sid: String? = nil, sub: String? = nil, iat: Int64? = nil) -> VerifiedToken {
    VerifiedToken(claims: JSONObject(), sub: sub, exp: 2_000_000_000, iat: iat, authTime: nil, rfc: nil,
                  jti: jti, sid: sid, kid: nil, algorithm: .hs256, expiredWithinLeeway: false)
}

/// A view of exactly these entries.
func revocationView(_ entries: [Revocation]) -> RevocationView {
    let builder = RevocationViewBuilder()
    builder.reset(entries)
    return builder.snapshot()
}

@Suite struct RevocationViewTests {
    let now: Int64 = 1_700_000_000

    @Test func jtiEntryMatchesThatJTIOnly() {
        let view = revocationView([Revocation(target: .jti("token-1"), created: now, until: now + 60)])
        #expect(view.revokes(revocationTestToken(jti: "token-1", sid: "s", sub: "u", iat: now), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "token-2", sid: "s", sub: "u", iat: now), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "token-", iat: now), now: now))
        // Kinds are separate: the same string as a sid or sub is not a jti.
        #expect(!view.revokes(revocationTestToken(jti: "x", sid: "token-1", sub: "token-1", iat: 0), now: now))
    }

    @Test func sidEntryMatchesThatSessionOnly() {
        let view = revocationView([Revocation(target: .sid("session-A"), created: now, until: now + 60)])
        #expect(view.revokes(revocationTestToken(jti: "j", sid: "session-A", sub: "u", iat: now), now: now))
        #expect(view.revokes(revocationTestToken(sid: "session-A"), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "j", sid: "session-B", sub: "u", iat: now), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "session-A", sub: "session-A", iat: 0), now: now))
    }

    @Test func subjectEntryRevokesTokensIssuedStrictlyBefore() {
        let before = now - 100
        let view = revocationView([Revocation(target: .subject("alice", before: before), created: now, until: now + 60)])
        #expect(view.revokes(revocationTestToken(sub: "alice", iat: before - 1), now: now))
        #expect(view.revokes(revocationTestToken(sub: "alice", iat: 0), now: now))
        #expect(!view.revokes(revocationTestToken(sub: "alice", iat: before), now: now))
        #expect(!view.revokes(revocationTestToken(sub: "alice", iat: before + 1), now: now))
        #expect(!view.revokes(revocationTestToken(sub: "bob", iat: before - 1), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "alice", sid: "alice", iat: before - 1), now: now))
    }

    @Test func subjectEntryRevokesTokenWithoutIAT() {
        let view = revocationView([Revocation(target: .subject("alice", before: now), created: now, until: now + 60)])
        #expect(view.revokes(revocationTestToken(sub: "alice", iat: nil), now: now))
        #expect(!view.revokes(revocationTestToken(sub: "bob", iat: nil), now: now))
    }

    /// Several `before`s for one subject, each with its own `until`.
    @Test func subjectWithSeveralEntriesChecksEach() {
        let view = revocationView([
            Revocation(target: .subject("carol", before: 100), created: 0, until: now + 1000),
            Revocation(target: .subject("carol", before: 200), created: 0, until: now + 500),
        ])
        #expect(view.revokes(revocationTestToken(sub: "carol", iat: 150), now: now + 400))
        #expect(!view.revokes(revocationTestToken(sub: "carol", iat: 150), now: now + 600))
        #expect(view.revokes(revocationTestToken(sub: "carol", iat: 99), now: now + 600))
        #expect(!view.revokes(revocationTestToken(sub: "carol", iat: 99), now: now + 1001))
    }

    @Test func entryIsLiveUntilItsUntilInclusive() {
        let view = revocationView([
            Revocation(target: .jti("j"), created: now - 10, until: now),
            Revocation(target: .sid("s"), created: now - 10, until: now - 1),
            Revocation(target: .subject("u", before: now), created: now - 10, until: now - 1),
        ])
        #expect(view.revokes(revocationTestToken(jti: "j"), now: now))
        #expect(!view.revokes(revocationTestToken(jti: "j"), now: now + 1))
        #expect(!view.revokes(revocationTestToken(sid: "s"), now: now))
        #expect(view.revokes(revocationTestToken(sid: "s"), now: now - 1))
        #expect(!view.revokes(revocationTestToken(sub: "u", iat: 0), now: now))
    }

    @Test func extremeUntilsKeepTheirMeaning() {
        let view = revocationView([
            Revocation(target: .jti("far"), created: now, until: .max),
            Revocation(target: .jti("past"), created: 0, until: -5),
        ])
        #expect(view.revokes(revocationTestToken(jti: "far"), now: Int64(UInt32.max) + 1))
        #expect(!view.revokes(revocationTestToken(jti: "past"), now: 0))
        #expect(view.revokes(revocationTestToken(jti: "past"), now: -5))
    }

    @Test func tokenWithoutJTISIDOrSubIsNeverRevoked() {
        let view = revocationView([
            Revocation(target: .jti(""), created: now, until: now + 60),
            Revocation(target: .sid("s"), created: now, until: now + 60),
            Revocation(target: .subject("u", before: now + 60), created: now, until: now + 60),
        ])
        #expect(!view.revokes(revocationTestToken(iat: nil), now: now))
        #expect(!view.revokes(jti: nil, sid: nil, sub: nil, iat: 0, now: now))
        // The empty string is a value like any other.
        #expect(view.revokes(jti: "", sid: nil, sub: nil, iat: nil, now: now))
    }

    @Test func lowerLevelCheckAgreesWithTokenCheck() {
        let view = revocationView([
            Revocation(target: .sid("s1"), created: now, until: now + 60),
            Revocation(target: .subject("u1", before: 500), created: now, until: now + 60),
        ])
        for jti in [nil, "j"] as [String?] {
            for sid in [nil, "s1", "s2"] as [String?] {
                for sub in [nil, "u1", "u2"] as [String?] {
                    for iat in [nil, 499, 500] as [Int64?] {
                        #expect(view.revokes(revocationTestToken(jti: jti, sid: sid, sub: sub, iat: iat), now: now)
                            == view.revokes(jti: jti, sid: sid, sub: sub, iat: iat, now: now))
                    }
                }
            }
        }
        #expect(view.revokes(jti: nil, sid: "s1", sub: nil, iat: nil, now: now))
        #expect(view.revokes(jti: nil, sid: "s2", sub: "u1", iat: 499, now: now))
        #expect(!view.revokes(jti: "j", sid: "s2", sub: "u1", iat: 500, now: now))
    }

    @Test func countsPerKind() {
        let view = revocationView([
            Revocation(target: .jti("a"), created: now, until: now + 60),
            Revocation(target: .jti("b"), created: now, until: now + 60),
            Revocation(target: .sid("a"), created: now, until: now + 60),
            Revocation(target: .subject("a", before: 1), created: now, until: now + 60),
            Revocation(target: .subject("a", before: 2), created: now, until: now + 60),
            Revocation(target: .subject("b", before: 1), created: now, until: now + 60),
        ])
        #expect(view.count(kind: .jti) == 2)
        #expect(view.count(kind: .sid) == 1)
        #expect(view.count(kind: .sub) == 3)
        #expect(view.counts.map(\.kind) == [.jti, .sid, .sub])
        #expect(view.counts.map(\.count) == [2, 1, 3])
        #expect(RevocationView.Kind.allCases.map(\.rawValue) == ["jti", "sid", "sub"])
    }

    @Test func emptyViewRevokesNothing() {
        let view = RevocationView.empty
        #expect(!view.revokes(revocationTestToken(jti: "j", sid: "s", sub: "u", iat: nil), now: now))
        #expect(RevocationView.Kind.allCases.allSatisfy { view.count(kind: $0) == 0 })
    }
}
