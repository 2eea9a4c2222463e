import Foundation
import Testing
@testable import GatewayStore
import GatewayAuth

@Suite struct RedisStoreRevocationTests {
    let server: RedisTestServer
    let now = Int64(Date().timeIntervalSince1970)

    init() throws { server = try RedisTestServer() }

    @Test func addListWithCursorAndDelete() async throws {
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        let targets: [Revocation.Target] = [.jti("j-1"), .sid("s|1"), .subject("alice", before: now - 5)]
        var added: [Revocation] = []
        for t in targets {
            let r = try #require(await store.add(t, until: now + 3600, now: now).value)
            #expect(r.id == Revocation.id(for: t))
            #expect(r.target == t && r.created == now && r.until == now + 3600)
            added.append(r)
        }

        let first = try #require(await store.list(cursor: nil, limit: 2, now: now).value)
        #expect(first.items == Array(added.prefix(2)))
        let cursor = try #require(first.nextCursor)
        let second = try #require(await store.list(cursor: cursor, limit: 2, now: now).value)
        #expect(second.items == [added[2]])
        #expect(second.nextCursor == nil)
        let whole = try #require(await store.list(cursor: nil, limit: 100, now: now).value)
        #expect(whole.items == added && whole.nextCursor == nil)

        #expect(await store.delete(added[0].id).value == true)
        #expect(await store.delete(added[0].id).value == false)
        #expect(await store.list(cursor: nil, limit: 100, now: now).value?.items == Array(added.dropFirst()))
    }

    @Test func repeatingATargetKeepsTheEntryAndTheLaterUntil() async throws {
        let (store, feed) = try await startedStore(server)
        defer { store.stop() }
        let first = try #require(await store.add(.jti("again"), until: now + 100, now: now).value)
        let later = try #require(await store.add(.jti("again"), until: now + 500, now: now + 10).value)
        #expect(later.id == first.id && later.created == now && later.until == now + 500)
        let earlier = try #require(await store.add(.jti("again"), until: now + 50, now: now + 20).value)
        #expect(earlier.id == first.id && earlier.created == now && earlier.until == now + 500)
        let page = try #require(await store.list(cursor: nil, limit: 10, now: now).value)
        #expect(page.items.count == 1 && page.items.first?.until == now + 500)
        #expect(await eventually { feed.view[first.id]?.until == now + 500 })
    }

    @Test func listSkipsExpiredEntriesAndRefusesForeignCursors() async throws {
        let (store, _) = try await startedStore(server)
        defer { store.stop() }
        _ = try #require(await store.add(.jti("old"), until: now - 10, now: now - 100).value)
        let live = try #require(await store.add(.jti("live"), until: now + 10, now: now).value)
        let page = try #require(await store.list(cursor: nil, limit: 10, now: now).value)
        #expect(page.items == [live])
        for bad in ["abc", "-1", "", "1e3", "0"] {
            #expect(await store.list(cursor: bad, limit: 10, now: now).error == .badCursor)
        }
    }

    @Test func feedCarriesAddsAndRemovals() async throws {
        let (store, feed) = try await startedStore(server)
        defer { store.stop() }
        guard case .reset(let initial)? = feed.all.first else {
            Issue.record("the feed did not start with a reset")
            return
        }
        #expect(initial.isEmpty)
        let r = try #require(await store.add(.subject("bob|x", before: now), until: now + 60, now: now).value)
        #expect(await eventually { feed.view[r.id] == r })
        #expect(await store.delete(r.id).value == true)
        #expect(await eventually { feed.view.isEmpty && feed.all.count >= 3 })
    }

    @Test func resetHoldsWhatWasThereBeforeStart() async throws {
        let (first, _) = try await startedStore(server)
        defer { first.stop() }
        let a = try #require(await first.add(.jti("a"), until: now + 60, now: now).value)
        let b = try #require(await first.add(.sid("b"), until: now + 60, now: now).value)
        _ = try #require(await first.add(.jti("gone"), until: now - 1, now: now - 10).value)
        let (second, feed) = try await startedStore(server)
        defer { second.stop() }
        guard case .reset(let items)? = feed.all.first else {
            Issue.record("the feed did not start with a reset")
            return
        }
        #expect(items == [a, b])
    }

    @Test func theResyncPicksUpWhatTheChannelMissedAndDropsWhatExpired() async throws {
        let store = try RedisStore(url: server.url, password: nil, prefix: "t:", resyncIntervalMs: 100, log: { _ in })
        let feed = FeedRecorder()
        store.start(feed: feed.callback)
        defer { store.stop() }
        #expect(await eventually { store.status == .up && feed.resetCount >= 1 })

        // Written behind the store's back: no message on the channel.
        let id = Revocation.id(for: .jti("quiet"))
        try server.cli("HSET", "t:rev", id, "99|\(now)|\(now + 60)|jti||quiet")
        #expect(await eventually { feed.view[id] == Revocation(target: .jti("quiet"), created: now, until: now + 60) })

        // Expiring in a second: the sweep before a resync removes it from Redis.
        // (The clock of this moment, not the suite's start: under load the
        // suite's `now + 1` may be past already.)
        let t = Int64(Date().timeIntervalSince1970)
        let brief = try #require(await store.add(.jti("brief"), until: t + 1, now: t).value)
        // Seen added (the sweep may already have dropped it again).
        #expect(await eventually { feed.addedIDs.contains(brief.id) || feed.view[brief.id] != nil })
        #expect(await eventually(5) { (try? server.cli("HEXISTS", "t:rev", brief.id)) == "0" })
        #expect(await eventually { feed.view[brief.id] == nil })
        #expect(feed.view[id] != nil)
    }
}
