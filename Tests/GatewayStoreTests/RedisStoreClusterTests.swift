import Foundation
import Synchronization
import Testing
@testable import GatewayStore
import GatewayAuth

/// Two stores (two gateway instances) on one Redis.
@Suite struct RedisStoreClusterTests {
    let server: RedisTestServer
    let t0 = Int64(Date().timeIntervalSince1970) * 1000

    init() throws { server = try RedisTestServer() }

    @Test func bothInstancesShareTheSessionKey() async throws {
        let (a, _) = try await startedStore(server)
        let (b, _) = try await startedStore(server)
        defer { a.stop(); b.stop() }
        let key = try #require(a.sessionKey)
        #expect(key.count == 32)
        #expect(b.sessionKey == key)
    }

    @Test func fiftyConcurrentRotationsOnTwoInstancesYieldOneSuccessor() async throws {
        let (a, _) = try await startedStore(server)
        let (b, _) = try await startedStore(server)
        defer { a.stop(); b.stop() }
        let s = SessionRecord(sid: "race", sub: "u", claims: Array("{}".utf8), start: t0, expires: t0 + 86_400_000)
        _ = try #require(await a.start(s, token: tokenHash("R0"), now: t0, refreshTTL: 86_400_000).value)

        let outcomes = await withTaskGroup(of: RotateOutcome?.self) { group in
            for i in 0..<50 {
                let store = i % 2 == 0 ? a : b
                group.addTask {
                    await store.use(tokenHash("R0"), successor: tokenHash("R1"), now: t0 + 1_000 + Int64(i)).value
                }
            }
            var all: [RotateOutcome?] = []
            for await o in group { all.append(o) }
            return all
        }
        var rotated: [Int64] = [], replays: [Int64] = []
        for o in outcomes {
            switch o {
            case .rotated(let got, let usedAt)?: #expect(got == s); rotated.append(usedAt)
            case .replay(let got, let usedAt)?: #expect(got == s); replays.append(usedAt)
            default: Issue.record("unexpected outcome \(String(describing: o))")
            }
        }
        #expect(rotated.count == 1)
        #expect(replays.count == 49)
        #expect(Set(rotated + replays).count == 1)
        let tokens = try server.cli("--scan", "--pattern", "t:token:*").split(separator: "\n")
        #expect(tokens.count == 2)
    }

    @Test func aRevocationAddedOnOneReachesTheOthersFeed() async throws {
        let (a, feedA) = try await startedStore(server)
        let (b, feedB) = try await startedStore(server)
        defer { a.stop(); b.stop() }
        let nowS = t0 / 1000
        let r = try #require(await a.add(.jti("shared"), until: nowS + 60, now: nowS).value)
        #expect(await eventually { feedB.view[r.id] == r })
        #expect(await eventually { feedA.view[r.id] == r })
        #expect(await b.delete(r.id).value == true)
        #expect(await eventually { feedA.view[r.id] == nil })
    }

    @Test func aHostNameIsResolvedOffTheLoop() async throws {
        let store = try RedisStore(url: "redis://localhost:\(server.port)", password: nil, prefix: "t:", log: { _ in })
        store.start(feed: { _ in })
        defer { store.stop() }
        #expect(await eventually { store.status == .up })
        #expect(await store.delete("none").value == false)
    }

    /// Logged as unresolvable (or as unanswered, should DNS be slow).
    @Test func anUnknownHostStaysConnecting() async throws {
        let lines = Mutex<[String]>([])
        let store = try RedisStore(url: "redis://no-such-host.invalid:6379", password: nil, prefix: "t:",
                                   log: { line in lines.withLock { $0.append(line) } })
        store.start(feed: { _ in })
        defer { store.stop() }
        #expect(await eventually { lines.withLock { $0 }.contains { $0.contains("no-such-host.invalid") } })
        #expect(store.status == .connecting)
        #expect(await store.delete("x").error?.isUnavailable == true)
    }

    @Test func instancesWithOtherPrefixesShareNothing() async throws {
        let (a, _) = try await startedStore(server, prefix: "one:")
        let (b, feedB) = try await startedStore(server, prefix: "two:")
        defer { a.stop(); b.stop() }
        let nowS = t0 / 1000
        let r = try #require(await a.add(.jti("mine"), until: nowS + 60, now: nowS).value)
        #expect(await b.list(cursor: nil, limit: 10, now: nowS).value?.items == [])
        #expect(await b.delete(r.id).value == false)
        #expect(a.sessionKey != b.sessionKey)
        #expect(feedB.view.isEmpty)
    }
}
