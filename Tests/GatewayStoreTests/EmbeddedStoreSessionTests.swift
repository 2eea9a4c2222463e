import Testing
@testable import GatewayStore
import GatewayAuth

private let day: Int64 = 86_400_000

@Suite("Embedded store: sessions and rotation")
struct EmbeddedStoreSessionTests {

    let session = SessionRecord(sid: "sid-1", sub: "alice", claims: Array(#"{"role":"admin"}"#.utf8),
                                start: testNow, expires: testNow + 30 * day)

    @Test func firstUseRotatesThenReplayWithinGraceThenTheftAfter() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        try f.startSession(session, token: hash("t0")).get()

        let used = testNow + 60_000
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: used).get() == .rotated(session, usedAt: used))
        // Within grace: the first use's time, so the caller derives the same pair.
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: used + 30_000).get() == .replay(session, usedAt: used))
        // The successor is a token of its own.
        let next = used + 120_000
        #expect(try f.rotate(hash("t1"), successor: hash("t2"), now: next).get() == .rotated(session, usedAt: next))

        // t0 again, long after: theft.
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: used + 30_001).get() == .reuseDetected)
        let sidID = Revocation.id(for: .sid("sid-1"))
        #expect(f.feed.addedIDs == [sidID])
        let entry = try #require(try f.list().get().items.first)
        #expect(entry.target == .sid("sid-1"))
        #expect(entry.until == (testNow + 30 * day) / 1000)
        // The whole family is dead now.
        #expect(try f.rotate(hash("t2"), successor: hash("t3"), now: next + 1000).get() == .invalid)
        #expect(try f.rotate(hash("t1"), successor: hash("t2"), now: next + 1000).get() == .invalid)
    }

    @Test func theftRevocationRoundsTheExpiryUp() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        var s = session
        s.expires = testNow + 10 * day + 1   // one ms into a second
        try f.startSession(s, token: hash("t0")).get()
        _ = try f.rotate(hash("t0"), successor: hash("t1"), now: testNow).get()
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 40_000).get() == .reuseDetected)
        #expect(try f.list().get().items.first?.until == (testNow + 10 * day) / 1000 + 1)
    }

    @Test func unknownExpiredAndRevokedTokensAreInvalid() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        #expect(try f.rotate(hash("nobody"), successor: hash("x"), now: testNow).get() == .invalid)

        // Past refresh_ttl since issue.
        try f.startSession(session, token: hash("a0"), ttl: day).get()
        #expect(try f.rotate(hash("a0"), successor: hash("a1"), now: testNow + day + 1, ttl: day).get() == .invalid)
        #expect(try f.rotate(hash("a0"), successor: hash("a1"), now: testNow + day, ttl: day).get()
                == .rotated(session, usedAt: testNow + day))

        // Past the session's expires (max_age).
        var short = session
        short.sid = "sid-short"
        short.expires = testNow + 1000
        try f.startSession(short, token: hash("b0")).get()
        #expect(try f.rotate(hash("b0"), successor: hash("b1"), now: testNow + 1001).get() == .invalid)

        // Its sid revoked through the admin API.
        var other = session
        other.sid = "sid-revoked"
        try f.startSession(other, token: hash("c0")).get()
        _ = try f.add(.sid("sid-revoked"), until: testNow / 1000 + 3600).get()
        #expect(try f.rotate(hash("c0"), successor: hash("c1"), now: testNow + 1).get() == .invalid)
    }

    @Test func subjectRevokedAfterTheSessionStartInvalidatesIt() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        var old = session
        old.sid = "old"
        var fresh = session
        fresh.sid = "fresh"
        fresh.start = testNow + 20_000
        try f.startSession(old, token: hash("o0")).get()
        try f.startSession(fresh, token: hash("f0")).get()
        // Password reset at testNow + 10 s: sessions started before it die.
        _ = try f.add(.subject("alice", before: testNow / 1000 + 10), until: testNow / 1000 + 3600).get()
        #expect(try f.rotate(hash("o0"), successor: hash("o1"), now: testNow + 30_000).get() == .invalid)
        #expect(try f.rotate(hash("f0"), successor: hash("f1"), now: testNow + 30_000).get()
                == .rotated(fresh, usedAt: testNow + 30_000))
        // Another subject is untouched.
        var bob = session
        bob.sid = "bob-1"
        bob.sub = "bob"
        try f.startSession(bob, token: hash("b0")).get()
        #expect(try f.rotate(hash("b0"), successor: hash("b1"), now: testNow + 30_000).get()
                == .rotated(bob, usedAt: testNow + 30_000))
    }

    @Test func endSessionBySidAndByTokenHash() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        try f.startSession(session, token: hash("t0")).get()
        var second = session
        second.sid = "sid-2"
        try f.startSession(second, token: hash("u0")).get()

        #expect(try f.endSession(.sid("sid-1")).get() == "sid-1")
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 1).get() == .invalid)

        #expect(try f.endSession(.refreshTokenHash(hash("u0"))).get() == "sid-2")
        #expect(try f.rotate(hash("u0"), successor: hash("u1"), now: testNow + 1).get() == .invalid)

        #expect(try f.endSession(.refreshTokenHash(hash("unknown"))).get() == nil)
        // An unknown sid still gets an entry, until now + fallback.
        #expect(try f.endSession(.sid("sid-elsewhere"), fallback: 900).get() == "sid-elsewhere")
        let items = try f.list().get().items
        #expect(items.map(\.target) == [.sid("sid-1"), .sid("sid-2"), .sid("sid-elsewhere")])
        #expect(items[0].until == session.expires / 1000)
        #expect(items[2].until == testNow / 1000 + 900)
        #expect(f.feed.addedIDs == items.map(\.id))
    }
}
