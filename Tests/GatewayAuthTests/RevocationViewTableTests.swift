import Testing
@testable import GatewayAuth

/// The table under the view, with chosen keys: runs of equal `hi`, crowded
/// homes, and the ends of the key range, which random strings never reach.
@Suite struct RevocationViewTableTests {
    func entry(_ hi: UInt64, _ lo: UInt64, until: Int64 = 100, before: Int64 = 0) -> RevocationTable.Entry {
        RevocationTable.Entry(key: RevocationKey(hi: hi, lo: lo), until: until, before: before)
    }

    func finds(_ table: RevocationTable, _ hi: UInt64, _ lo: UInt64, now: Int64 = 50, iat: Int64? = nil) -> Bool {
        guard let run = table.run(of: hi, from: table.start(hi)) else { return false }
        return table.matches(RevocationKey(hi: hi, lo: lo), inRunAt: run, now: now, iat: iat)
    }

    @Test func equalHiWithDifferentLoIsNotAMatch() {
        let table = RevocationTable(entries: [entry(5, 3), entry(5, 1), entry(9, 0)], withBefore: false)
        #expect(finds(table, 5, 1))
        #expect(finds(table, 5, 3))
        #expect(!finds(table, 5, 2))
        #expect(!finds(table, 6, 1))
        #expect(finds(table, 9, 0))
        #expect(table.run(of: 7, from: table.start(7)) == nil)
    }

    @Test func sameKeyTwiceChecksBothEntries() {
        let table = RevocationTable(entries: [entry(5, 3, until: 10, before: 200), entry(5, 3, until: 100, before: 100)],
                                    withBefore: true)
        #expect(finds(table, 5, 3, now: 5, iat: 150))
        #expect(!finds(table, 5, 3, now: 50, iat: 150))
        #expect(finds(table, 5, 3, now: 50, iat: 99))
        #expect(finds(table, 5, 3, now: 50, iat: nil))
        #expect(!finds(table, 5, 3, now: 101, iat: nil))
    }

    /// Every key with home 0, and keys near `UInt64.max` that all share the
    /// last home and spill past it: the table grows, never wraps.
    @Test func crowdedHomesAndRangeEnds() {
        var entries = (0..<100).map { entry(UInt64($0), UInt64($0)) }
        entries += (0..<10).map { entry(UInt64.max - 1 - UInt64($0), 7) }
        let table = RevocationTable(entries: entries.shuffled(), withBefore: false)
        #expect(table.entryCount == 110)
        #expect(table.slots.count > Int(table.homes) + 1)
        for i in 0..<100 {
            #expect(finds(table, UInt64(i), UInt64(i)))
            #expect(!finds(table, UInt64(i), UInt64(i) + 1))
        }
        #expect(!finds(table, 100, 100))
        for i in 0..<10 { #expect(finds(table, UInt64.max - 1 - UInt64(i), 7)) }
        #expect(!finds(table, UInt64.max - 11, 7))
        #expect(!finds(table, 1 << 63, 0))
    }

    /// The counting sort by home: slots come out in ascending key order
    /// however the entries came in, including one key held by more entries
    /// than the insertion sort of a home takes (one `sub` revoked 40 times).
    @Test func slotsAreInKeyOrderWithCrowdsOfOneKey() {
        var generator = SeededGenerator(state: 7)
        var entries = (0..<3000).map { _ in entry(generator.next() % (UInt64.max - 1), generator.next()) }
        let crowdHi = UInt64(1) << 62
        entries += (0..<40).map { entry(crowdHi, 5, until: 100, before: Int64(1000 + $0)) }
        entries += (0..<20).map { entry(crowdHi, UInt64($0), until: 100, before: 0) }
        entries.shuffle(using: &generator)
        let table = RevocationTable(entries: entries, withBefore: true)
        let keys = table.slots.filter { $0.hi != .max }.map { ($0.hi, $0.lo) }
        #expect(keys.count == entries.count)
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 })
        for e in entries { #expect(finds(table, e.key.hi, e.key.lo, iat: e.before == 0 ? nil : e.before - 1)) }
        // The latest `before` of the crowd still counts: iat 1038 < 1039.
        #expect(finds(table, crowdHi, 5, iat: 1038))
        #expect(!finds(table, crowdHi, 5, iat: 1039))
    }

    @Test func emptyTableFindsNothing() {
        let table = RevocationTable(entries: [], withBefore: true)
        #expect(!table.hasEntries)
        #expect(!finds(table, 0, 0))
        #expect(!finds(table, UInt64.max - 1, 0))
    }

    @Test func keysAreKeyedHashesOfTheBytes() {
        let a = RevocationKey.of("alice"), b = RevocationKey.of("alice")
        #expect(a == b)
        #expect(RevocationKey.of("alicf") != a)
        #expect(a.hi != a.lo)
        // A long (heap) string and a short (inline) one hash their bytes alike.
        let long = String(repeating: "x", count: 40)
        #expect(RevocationKey.of(long) == RevocationKey.of(String(decoding: Array(long.utf8), as: UTF8.self)))
        #expect(RevocationKey.processKeys.hi != RevocationKey.processKeys.lo)
    }
}
