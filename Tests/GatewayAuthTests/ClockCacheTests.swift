import Testing
@testable import GatewayAuth

/// ClockCache's chains: keys sharing one hash (or one bucket) are all found,
/// compared in full, and unlinked one by one on eviction or expiry.
@Suite struct ClockCacheTests {
    static func put(_ cache: inout ClockCache<Int>, _ key: String, hash: UInt64, _ value: Int) {
        Array(key.utf8).withUnsafeBytes { cache.insert($0, hash: TokenHash(value: hash), value) { $0 >= 0 } }
    }

    static func get(_ cache: inout ClockCache<Int>, _ key: String, hash: UInt64) -> Int? {
        Array(key.utf8).withUnsafeBytes { cache.lookup($0, hash: TokenHash(value: hash)) { $0 >= 0 } }
    }

    @Test func keysSharingAHashAreAllFoundAndUnlinkedOneByOne() {
        var cache = ClockCache<Int>(capacity: 4)
        for (i, key) in ["a", "b", "c"].enumerated() { Self.put(&cache, key, hash: 7, i) }
        #expect(Self.get(&cache, "a", hash: 7) == 0)
        #expect(Self.get(&cache, "b", hash: 7) == 1)
        #expect(Self.get(&cache, "c", hash: 7) == 2)
        #expect(Self.get(&cache, "d", hash: 7) == nil)
        // Replacing one in the middle of the chain keeps the others.
        Self.put(&cache, "b", hash: 7, 10)
        #expect(Self.get(&cache, "b", hash: 7) == 10)
        #expect(cache.count == 3)
        // A dead value is dropped on lookup: unlinked from the middle.
        Self.put(&cache, "b", hash: 7, -1)
        #expect(Self.get(&cache, "b", hash: 7) == nil)
        #expect(cache.count == 2)
        #expect(Self.get(&cache, "a", hash: 7) == 0)
        #expect(Self.get(&cache, "c", hash: 7) == 2)
        // Same bucket (capacity 4: 8 buckets), other hash: its own entry.
        Self.put(&cache, "a", hash: 7 + 8, 20)
        #expect(Self.get(&cache, "a", hash: 7 + 8) == 20)
        #expect(Self.get(&cache, "a", hash: 7) == 0)
        #expect(cache.count == 3)
    }

    @Test func evictionUnlinksFromEveryPositionOfAChain() {
        // Capacity 3, all keys under one hash: every insertion past three
        // evicts some chain member; what is left is always exactly findable.
        var cache = ClockCache<Int>(capacity: 3)
        var live: [String: Int] = [:]
        for i in 0..<40 {
            let key = "k\(i)"
            Self.put(&cache, key, hash: 42, i)
            live[key] = i
            live = live.filter { Self.get(&cache, $0.key, hash: 42) == $0.value }
            #expect(live.count == min(i + 1, 3))
            #expect(cache.count == live.count)
            #expect(Self.get(&cache, key, hash: 42) == i)
        }
        cache.clear()
        #expect(cache.count == 0)
        #expect(Self.get(&cache, "k39", hash: 42) == nil)
        Self.put(&cache, "k39", hash: 42, 1)
        #expect(Self.get(&cache, "k39", hash: 42) == 1)
    }
}
