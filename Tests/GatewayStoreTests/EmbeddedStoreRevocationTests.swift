import Glibc
import Testing
@testable import GatewayStore
import GatewayAuth

@Suite("Embedded store: revocations")
struct EmbeddedStoreRevocationTests {
    let now = testNow / 1000

    @Test func addReturnsTheEntryAndFeedsIt() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        let r = try f.add(.jti("tok-1"), until: now + 3600).get()
        #expect(r.id == Revocation.id(for: .jti("tok-1")))
        #expect(r.created == now && r.until == now + 3600)
        #expect(f.feed.addedIDs == [r.id])
        #expect(f.store.kind == "embedded")
        #expect(f.store.status == .up)
        #expect(f.store.sessionKey?.count == 32)
    }

    @Test func repeatingIsIdempotentAndKeepsTheLaterUntil() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        let first = try f.add(.sid("s-1"), until: now + 100).get()
        let sooner = try f.add(.sid("s-1"), until: now + 50, now: now + 10).get()
        #expect(sooner == first)
        let later = try f.add(.sid("s-1"), until: now + 500, now: now + 20).get()
        #expect(later.id == first.id && later.created == first.created && later.until == now + 500)
        let page = try f.list().get()
        #expect(page.items == [later])
        // The extension went through the feed; the shorter repeat did not.
        #expect(f.feed.addedIDs == [first.id, first.id])
    }

    @Test func listPagesOldestFirstWithCursors() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        var added: [Revocation] = []
        for i in 0..<7 { added.append(try f.add(.jti("t\(i)"), until: now + 3600).get()) }
        // One deleted and one expired: neither is listed.
        #expect(try f.delete(added[2].id).get() == true)
        _ = try f.add(.jti("short"), until: now - 1).get()

        var seen: [Revocation] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try f.list(cursor: cursor, limit: 2).get()
            #expect(page.items.count <= 2)
            seen += page.items
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == [added[0], added[1], added[3], added[4], added[5], added[6]])
        #expect(pages == 3)
    }

    @Test func badCursorsAreRefused() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        _ = try f.add(.jti("a"), until: now + 10).get()
        for bad in ["", "abc", "-1", "0", "999999", "01"] {
            #expect(f.list(cursor: bad) == .failure(.badCursor), "cursor \(bad)")
        }
    }

    @Test func deleteLiftsOnceAndFeedsTheRemoval() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        let r = try f.add(.subject("bob", before: now), until: now + 60).get()
        #expect(try f.delete(r.id).get() == true)
        #expect(try f.delete(r.id).get() == false)
        #expect(try f.delete("no-such-id").get() == false)
        #expect(try f.list().get().items.isEmpty)
        #expect(f.feed.removedIDs == [r.id])
    }

    @Test func startFeedsAResetOfTheLiveEntries() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        var ids: [String] = []
        do {
            let f = try StoreFixture.open(dir)
            ids.append(try f.add(.jti("a"), until: now + 100).get().id)
            ids.append(try f.add(.sid("b"), until: now + 100).get().id)
            _ = try f.add(.jti("gone"), until: now + 1).get()
            f.store.stop()
        }
        // Reopened two seconds on: "gone" has expired.
        let f = try StoreFixture.open(dir, clock: TestClock(testNow + 2000))
        defer { f.store.stop() }
        let list = try f.list(now: now + 2).get()
        #expect(list.items.map(\.id) == ids)
        guard case .reset(let all)? = f.feed.all.first else {
            Issue.record("no reset first")
            return
        }
        #expect(Set(all.map(\.id)) == Set(ids) && all.count == ids.count, "every live entry, in no particular order")
    }

    @Test func sweepDropsExpiredEntriesAndFeedsTheRemoval() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let clock = TestClock(testNow)
        let f = try StoreFixture.open(dir, clock: clock, sweepInterval: .milliseconds(20))
        defer { f.store.stop() }
        let short = try f.add(.jti("short"), until: now + 5).get()
        let long = try f.add(.jti("long"), until: now + 500).get()
        clock.set(testNow + 10_000)
        var waited = 0
        while f.feed.removedIDs.isEmpty && waited < 500 {
            _ = f.list()   // a turn of the writer
            usleep(2000)
            waited += 1
        }
        #expect(f.feed.removedIDs == [short.id])
        #expect(try f.list(now: 0).get().items == [long])
    }
}
