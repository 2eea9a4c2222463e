import Testing
@testable import GatewayAuth

@Suite struct ReissueCacheTests {
    /// Quantum starts (multiples of 30 s).
    static let q: Int64 = 1_699_999_980

    func lookup(_ c: ReissueCache, _ old: String, _ update: String? = nil, now: Int64 = q) -> String? {
        c.lookup(oldToken: Array(old.utf8), updateKey: update.map { Array($0.utf8) }, now: now)?.text
    }

    func insert(_ c: ReissueCache, _ old: String, _ update: String? = nil, new: String, now: Int64 = q) {
        c.insert(oldToken: Array(old.utf8), updateKey: update.map { Array($0.utf8) }, newToken: Array(new.utf8), now: now)
    }

    @Test func hitAndMiss() {
        let c = ReissueCache(capacity: 4)
        insert(c, "a.b.c", new: "n1")
        #expect(lookup(c, "a.b.c") == "n1")
        #expect(lookup(c, "a.b.d") == nil)
        #expect(lookup(c, "a.b.") == nil)
        #expect(lookup(c, "a.b.cc") == nil)
        let raw = Array("a.b.c".utf8).withUnsafeBytes { c.lookup(oldToken: $0, updateKey: nil, now: Self.q) }
        #expect(raw?.text == "n1")
    }

    @Test func updatesArePartOfTheKey() {
        let c = ReissueCache(capacity: 4)
        insert(c, "t", new: "plain")
        insert(c, "t", #"{"a":1}"#, new: "withA")
        insert(c, "t", "", new: "empty")
        #expect(lookup(c, "t") == "plain")
        #expect(lookup(c, "t", #"{"a":1}"#) == "withA")
        #expect(lookup(c, "t", "") == "empty")
        #expect(lookup(c, "t", #"{"a":2}"#) == nil)
        #expect(c.count == 3)
    }

    @Test func answersOnlyInsideItsQuantum() {
        let c = ReissueCache(capacity: 4)
        insert(c, "t", new: "n", now: Self.q + 3)
        #expect(lookup(c, "t", now: Self.q) == "n")
        #expect(lookup(c, "t", now: Self.q + 29) == "n")
        #expect(lookup(c, "t", now: Self.q + 30) == nil)
        // The stale entry was dropped.
        #expect(c.count == 0)
        #expect(lookup(c, "t", now: Self.q + 3) == nil)
        insert(c, "u", new: "n", now: Self.q)
        #expect(lookup(c, "u", now: Self.q - 1) == nil)
    }

    @Test func insertReplacesTheSameKey() {
        let c = ReissueCache(capacity: 4)
        insert(c, "t", new: "old", now: Self.q)
        insert(c, "t", new: "new", now: Self.q + 30)
        #expect(c.count == 1)
        #expect(lookup(c, "t", now: Self.q + 30) == "new")
    }

    @Test func evictsByClockKeepingCapacity() {
        let c = ReissueCache(capacity: 3)
        for i in 0..<10 { insert(c, "t\(i)", new: "n\(i)") }
        #expect(c.count == 3)
        #expect(lookup(c, "t9") == "n9")
        #expect(lookup(c, "t0") == nil)
        // A referenced entry survives the next insertion (second chance).
        _ = lookup(c, "t8")
        insert(c, "x", new: "nx")
        #expect(lookup(c, "t8") == "n8")
        #expect(lookup(c, "x") == "nx")
        #expect(c.count == 3)
        // Everything referenced: the hand still finds a victim.
        _ = lookup(c, "t9")
        insert(c, "y", new: "ny")
        #expect(c.count == 3)
        #expect(lookup(c, "y") == "ny")
    }

    @Test func entriesFromPastQuantaGoFirst() {
        let c = ReissueCache(capacity: 2)
        insert(c, "cur", new: "c", now: Self.q + 30)
        insert(c, "old", new: "o", now: Self.q)
        // Both referenced: only the quantum rule tells them apart.
        _ = lookup(c, "old", now: Self.q)
        _ = lookup(c, "cur", now: Self.q + 30)
        insert(c, "new", new: "n", now: Self.q + 30)
        #expect(lookup(c, "cur", now: Self.q + 30) == "c")
        #expect(lookup(c, "new", now: Self.q + 30) == "n")
        #expect(c.count == 2)
    }

    @Test func clearDropsEverything() {
        let c = ReissueCache(capacity: 4)
        insert(c, "a", new: "1")
        insert(c, "b", "u", new: "2")
        c.clear()
        #expect(c.count == 0)
        #expect(lookup(c, "a") == nil)
        #expect(lookup(c, "b", "u") == nil)
        insert(c, "a", new: "3")
        #expect(lookup(c, "a") == "3")
    }

    @Test func capacityAtLeastOne() {
        let c = ReissueCache(capacity: 0)
        #expect(c.capacity == 1)
        insert(c, "a", new: "1")
        insert(c, "b", new: "2")
        #expect(lookup(c, "a") == nil)
        #expect(lookup(c, "b") == "2")
    }
}
