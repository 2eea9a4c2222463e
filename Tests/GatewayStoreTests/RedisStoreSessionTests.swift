import Foundation
import Testing
@testable import GatewayStore
import GatewayAuth

@Suite struct RedisStoreSessionTests {
    let server: RedisTestServer
    /// Session times are unix ms; near the wall clock so revocations made
    /// from them are live for the store's own expiry sweep too.
    let t0 = Int64(Date().timeIntervalSince1970) * 1000
    let day: Int64 = 86_400_000

    init() throws { server = try RedisTestServer() }

    func session(_ sid: String = "sid-1", sub: String = "alice|1", start: Int64? = nil,
                 life: Int64 = 30 * 86_400_000) -> SessionRecord {
        let s = start ?? t0
        return SessionRecord(sid: sid, sub: sub, claims: Array(#"{"name":"Zoë","role":"a|b"}"#.utf8),
                             start: s, expires: s + life)
    }

    @Test func firstUseRotatesAndReuseWithinGraceReplaysTheFirstUse() async throws {
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        let s = session()
        #expect(await store.start(s, token: tokenHash("T0"), now: t0, refreshTTL: day).value != nil)

        let first = await store.use(tokenHash("T0"), successor: tokenHash("T1"), now: t0 + 1_000)
        #expect(first.value == .rotated(s, usedAt: t0 + 1_000))
        let again = await store.use(tokenHash("T0"), successor: tokenHash("T1"), now: t0 + 31_000, grace: 30_000)
        #expect(again.value == .replay(s, usedAt: t0 + 1_000))
        // The successor is a token of its own now, issued at the first use.
        let next = await store.use(tokenHash("T1"), successor: tokenHash("T2"), now: t0 + 40_000)
        #expect(next.value == .rotated(s, usedAt: t0 + 40_000))
    }

    @Test func reuseAfterGraceIsTheftAndRevokesTheSession() async throws {
        let (store, feed) = try await startedStore(server)
        defer { store.stop() }
        let s = session()
        _ = await store.start(s, token: tokenHash("T0"), now: t0, refreshTTL: day)
        #expect(await store.use(tokenHash("T0"), successor: tokenHash("T1"), now: t0 + 1_000).value
                == .rotated(s, usedAt: t0 + 1_000))
        let late = await store.use(tokenHash("T0"), successor: tokenHash("T1"), now: t0 + 31_001, grace: 30_000)
        #expect(late.value == .reuseDetected)

        let rid = Revocation.id(for: .sid(s.sid))
        let expectedUntil = (s.expires + 999) / 1000
        #expect(await eventually { feed.view[rid]?.until == expectedUntil })
        let page = try #require(await store.list(cursor: nil, limit: 10, now: t0 / 1000).value)
        #expect(page.items.map(\.target) == [.sid(s.sid)])
        #expect(page.items.first?.created == (t0 + 31_001) / 1000)
        // The whole family is dead: the successor and the stolen token.
        #expect(await store.use(tokenHash("T1"), successor: tokenHash("T2"), now: t0 + 32_000).value == .invalid)
        #expect(await store.use(tokenHash("T0"), successor: tokenHash("T1"), now: t0 + 32_000).value == .invalid)
    }

    @Test func unknownAndExpiredTokensAreInvalid() async throws {
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        #expect(await store.use(tokenHash("nobody"), successor: tokenHash("x"), now: t0).value == .invalid)

        // refresh_ttl since issue
        _ = await store.start(session("a"), token: tokenHash("A0"), now: t0, refreshTTL: 60_000)
        #expect(await store.use(tokenHash("A0"), successor: tokenHash("A1"), now: t0 + 60_000, refreshTTL: 60_000).value
                == .invalid)
        #expect(await store.use(tokenHash("A0"), successor: tokenHash("A1"), now: t0 + 59_999, refreshTTL: 60_000).value
                == .rotated(session("a"), usedAt: t0 + 59_999))

        // past the session's expires, though the token is young
        let short = session("b", life: 10_000)
        _ = await store.start(short, token: tokenHash("B0"), now: t0, refreshTTL: day)
        #expect(await store.use(tokenHash("B0"), successor: tokenHash("B1"), now: t0 + 10_000).value == .invalid)
    }

    @Test func aSubjectRevocationAfterTheStartRevokesTheSession() async throws {
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        let old = session("old", sub: "carol", start: t0)
        let young = session("young", sub: "carol", start: t0 + 10_000)
        _ = await store.start(old, token: tokenHash("O0"), now: t0, refreshTTL: day)
        _ = await store.start(young, token: tokenHash("Y0"), now: t0 + 10_000, refreshTTL: day)
        // Every token of carol issued before t0/1000 + 5 s: the old session only.
        _ = try #require(await store.add(.subject("carol", before: t0 / 1000 + 5), until: t0 / 1000 + 3600,
                                         now: t0 / 1000 + 5).value)
        #expect(await store.use(tokenHash("O0"), successor: tokenHash("O1"), now: t0 + 20_000).value == .invalid)
        #expect(await store.use(tokenHash("Y0"), successor: tokenHash("Y1"), now: t0 + 20_000).value
                == .rotated(young, usedAt: t0 + 20_000))
        // A subject revocation of someone else, or one already expired, revokes nothing.
        _ = await store.add(.subject("dave", before: t0 / 1000 + 3600), until: t0 / 1000 + 3600, now: t0 / 1000)
        let other = session("other", sub: "erin")
        _ = await store.start(other, token: tokenHash("E0"), now: t0, refreshTTL: day)
        _ = await store.add(.subject("erin", before: t0 / 1000 + 3600), until: t0 / 1000 + 10, now: t0 / 1000)
        #expect(await store.use(tokenHash("E0"), successor: tokenHash("E1"), now: t0 + 11_000).value
                == .rotated(other, usedAt: t0 + 11_000))
    }

    @Test func endSessionBySidAndByTokenHash() async throws {
        let (store, feed) = try await startedStore(server)
        defer { store.stop() }
        let a = session("end-a"), b = session("end-b")
        _ = await store.start(a, token: tokenHash("A0"), now: t0, refreshTTL: day)
        _ = await store.start(b, token: tokenHash("B0"), now: t0, refreshTTL: day)

        #expect(await store.end(.sid("end-a"), now: t0 + 1_000, fallbackUntil: 3600).value == .some("end-a"))
        #expect(await store.end(.refreshTokenHash(tokenHash("B0")), now: t0 + 1_000, fallbackUntil: 3600).value
                == .some("end-b"))
        #expect(await store.end(.refreshTokenHash(tokenHash("nobody")), now: t0, fallbackUntil: 3600).value
                == .some(nil))
        #expect(await store.end(.sid("never-seen"), now: t0, fallbackUntil: 3600).value == .some("never-seen"))

        let page = try #require(await store.list(cursor: nil, limit: 10, now: t0 / 1000).value)
        let until = Dictionary(page.items.map { ($0.target, $0.until) }, uniquingKeysWith: { $1 })
        #expect(until[.sid("end-a")] == (a.expires + 999) / 1000)
        #expect(until[.sid("end-b")] == (b.expires + 999) / 1000)
        #expect(until[.sid("never-seen")] == t0 / 1000 + 3600)
        #expect(page.items.count == 3)
        #expect(await eventually { feed.view.count == 3 })

        #expect(await store.use(tokenHash("A0"), successor: tokenHash("A1"), now: t0 + 2_000).value == .invalid)
        #expect(await store.use(tokenHash("B0"), successor: tokenHash("B1"), now: t0 + 2_000).value == .invalid)
        // Ending it again is no error and changes nothing.
        #expect(await store.end(.sid("end-a"), now: t0 + 5_000, fallbackUntil: 3600).value == .some("end-a"))
        #expect(await store.list(cursor: nil, limit: 10, now: t0 / 1000).value?.items.count == 3)
    }
}
