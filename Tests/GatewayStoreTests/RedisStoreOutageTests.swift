import Foundation
import Synchronization
import Testing
@testable import GatewayStore
import GatewayAuth

/// Passwords, a server that dies and comes back, scripts flushed.
@Suite struct RedisStoreOutageTests {
    let nowS = Int64(Date().timeIntervalSince1970)

    @Test func authenticatesWithThePassword() async throws {
        let server = try RedisTestServer(password: "s3cret pass")
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        #expect(await store.add(.jti("a"), until: nowS + 60, now: nowS).value != nil)
    }

    @Test(arguments: [nil, "wrong"])
    func aWrongOrMissingPasswordNeverComesUp(_ password: String?) async throws {
        let server = try RedisTestServer(password: "s3cret")
        let lines = Mutex<[String]>([])
        let store = try RedisStore(url: server.url, password: password, prefix: "t:",
                                   log: { line in lines.withLock { $0.append(line) } })
        store.start(feed: { _ in })
        defer { store.stop() }
        // The first refused handshake is logged; it is still not up after it.
        #expect(await eventually { !lines.withLock { $0 }.isEmpty })
        #expect(store.status == .connecting)
        #expect(lines.withLock { $0 }.first?.contains("AUTH") == true || lines.withLock { $0 }.first?.contains("NOAUTH") == true)
        #expect(await store.delete("x").error?.isUnavailable == true)
    }

    @Test func serverKilledAndRestarted() async throws {
        let server = try RedisTestServer()
        let (store, feed) = try await startedStore(server)
        defer { store.stop() }
        let key = try #require(store.sessionKey)
        _ = try #require(await store.add(.jti("before"), until: nowS + 60, now: nowS).value)
        let resets = feed.resetCount

        server.kill()
        #expect(await eventually { if case .down = store.status { return true }; return false })
        // While down every op is refused at once (a deadline, not a speed check).
        let answered = Mutex<Result<Revocation, StoreError>?>(nil)
        store.addRevocation(.jti("while-down"), until: nowS + 60, now: nowS, on: InlineExecutor()) { r in
            answered.withLock { $0 = r }
        }
        #expect(await eventually(2) { answered.withLock { $0 } != nil })
        #expect(answered.withLock { $0 }?.error?.isUnavailable == true)

        try server.launch()
        #expect(await eventually { store.status == .up })
        #expect(await eventually { feed.resetCount > resets })
        // The restarted server kept nothing; the store wrote its key back, so
        // every instance keeps deriving the same successors.
        #expect(store.sessionKey == key)
        #expect(feed.view.isEmpty)
        let after = try #require(await store.add(.jti("after"), until: nowS + 60, now: nowS).value)
        #expect(await eventually { feed.view.keys.sorted() == [after.id] })
    }

    @Test func aStuckServerIsNoticedAndLeft() async throws {
        let server = try RedisTestServer()
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        server.signal(SIGSTOP)
        let answered = Mutex<Result<Bool, StoreError>?>(nil)
        store.deleteRevocation(id: "x", on: InlineExecutor()) { r in answered.withLock { $0 = r } }
        // Sockets stay open: only the command timeout can tell.
        #expect(await eventually { if case .down = store.status { return true }; return false })
        #expect(answered.withLock { $0 }?.error?.isUnavailable == true)
        server.signal(SIGCONT)
        #expect(await eventually { store.status == .up })
        #expect(await store.delete("x").value == false)
    }

    @Test func opsInFlightWhenTheServerDiesCompleteExactlyOnce() async throws {
        let server = try RedisTestServer()
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        struct Tally { var ok = 0, unavailable = 0, other = 0 }
        let tally = Mutex(Tally())
        let total = 3_000
        for i in 0..<total {
            store.addRevocation(.jti("burst-\(i)"), until: nowS + 60, now: nowS, on: InlineExecutor()) { r in
                tally.withLock { t in
                    switch r {
                    case .success: t.ok += 1
                    case .failure(let e) where e.isUnavailable: t.unavailable += 1
                    case .failure: t.other += 1
                    }
                }
            }
            if i == total / 3 { server.kill() }
        }
        #expect(await eventually { tally.withLock { $0.ok + $0.unavailable + $0.other } == total })
        try await Task.sleep(nanoseconds: 300_000_000)  // room for any second completion to show up
        let t = tally.withLock { $0 }
        #expect(t.ok + t.unavailable == total)
        #expect(t.other == 0)
        #expect(t.unavailable > 0)
    }

    @Test func stopFinishesWhatWasQueued() async throws {
        let server = try RedisTestServer()
        let (store, _) = try await startedStore(server)
        let results = Mutex<[Bool]>([])
        for i in 0..<200 {
            store.addRevocation(.jti("queued-\(i)"), until: nowS + 60, now: nowS, on: InlineExecutor()) { r in
                results.withLock { $0.append(r.value != nil) }
            }
        }
        store.stop()
        #expect(await eventually { results.withLock { $0.count } == 200 })
        #expect(results.withLock { $0 }.allSatisfy { $0 })
        #expect(try server.cli("HLEN", "t:rev") == "200")
    }

    @Test func rotationSurvivesAScriptFlush() async throws {
        let server = try RedisTestServer()
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        let t0 = nowS * 1000
        let s = SessionRecord(sid: "flush", sub: "u", claims: Array("{}".utf8), start: t0, expires: t0 + 3_600_000)
        _ = try #require(await store.start(s, token: tokenHash("F0"), now: t0, refreshTTL: 3_600_000).value)
        #expect(try server.cli("SCRIPT", "FLUSH") == "OK")
        #expect(await store.use(tokenHash("F0"), successor: tokenHash("F1"), now: t0 + 1).value
                == .rotated(s, usedAt: t0 + 1))
        #expect(try server.cli("SCRIPT", "FLUSH") == "OK")
        #expect(await store.add(.jti("after-flush"), until: nowS + 60, now: nowS).value != nil)
        #expect(store.status == .up)
    }
}
