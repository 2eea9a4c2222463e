/// A fixed-size map from byte strings to values with CLOCK (second chance)
/// eviction: the storage under `VerifiedTokenCache` and `ReissueCache`.
///
/// One per worker: NOT thread-safe by design (no locks on the request path).
/// The caller hashes each key once (`TokenHash`, keyed per process) and
/// passes the hash to find a chain of slots; keys are then compared in full,
/// so a hash collision (or a wrong hash) can never return another key's
/// value, only miss. Liveness is the caller's rule (`isLive`):
/// a dead entry found by a lookup is dropped, and dead entries are evicted
/// before live ones.
struct ClockCache<Value> {
    private struct Entry {
        var value: Value
        var referenced: Bool
    }

    private var slots: [Entry?]
    /// Each slot's key and hash, apart from `slots` so a lookup compares
    /// without copying (and retaining) the entry's value.
    private var keys: [[UInt8]]
    private var hashes: [UInt64]
    /// Open hashing on the (already keyed, uniformly spread) hash itself:
    /// `buckets[hash & mask]` is the first slot of a chain linked by `next`
    /// (-1 ends both). Several keys may share a hash or a bucket; linking
    /// through slots costs no allocation per entry, and no second hashing
    /// of the hash (a Dictionary<UInt64, [Int]> did both).
    private var buckets: [Int]
    private let mask: UInt64
    private var next: [Int]
    private var hand = 0
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
        keys = Array(repeating: [], count: self.capacity)
        hashes = Array(repeating: 0, count: self.capacity)
        next = Array(repeating: -1, count: self.capacity)
        var size = 2
        while size < 2 * self.capacity { size *= 2 }
        buckets = Array(repeating: -1, count: size)
        mask = UInt64(size - 1)
    }

    private func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        var slot = buckets[Int(h & mask)]
        while slot >= 0 {
            if hashes[slot] == h && keys[slot].withUnsafeBytes({ ByteEquality.equal($0, key) }) { return slot }
            slot = next[slot]
        }
        return nil
    }

    /// The value for `key` (whose `TokenHash` is `hash`) if present and
    /// live; a dead one is dropped.
    mutating func lookup(_ key: UnsafeRawBufferPointer, hash: TokenHash, isLive: (Value) -> Bool) -> Value? {
        guard let slot = find(key, hash: hash.value), let entry = slots[slot] else { return nil }
        guard isLive(entry.value) else {
            remove(slot: slot)
            return nil
        }
        slots[slot]?.referenced = true
        return entry.value
    }

    /// Stores `value` for `key` (whose `TokenHash` is `hash`), replacing any
    /// entry with that key.
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: TokenHash, _ value: Value, isLive: (Value) -> Bool) {
        let h = hash.value
        if let slot = find(key, hash: h) {
            slots[slot]?.value = value
            return
        }
        let slot = victim(isLive: isLive)
        if slots[slot] != nil { remove(slot: slot) }
        slots[slot] = Entry(value: value, referenced: false)
        keys[slot] = Array(key)
        hashes[slot] = h
        count += 1
        let bucket = Int(h & mask)
        next[slot] = buckets[bucket]
        buckets[bucket] = slot
    }

    mutating func clear() {
        for i in slots.indices {
            slots[i] = nil
            keys[i] = []
            next[i] = -1
        }
        for b in buckets.indices { buckets[b] = -1 }
        hand = 0
        count = 0
    }

    /// CLOCK: the first empty or dead slot, else the first unreferenced one,
    /// clearing reference bits on the way (bounded: after two turns of the
    /// hand every bit is clear).
    private mutating func victim(isLive: (Value) -> Bool) -> Int {
        var steps = 0
        while true {
            let i = hand
            hand = (hand + 1) % capacity
            guard let entry = slots[i] else { return i }
            if !isLive(entry.value) || !entry.referenced || steps >= 2 * capacity { return i }
            slots[i]?.referenced = false
            steps += 1
        }
    }

    private mutating func remove(slot: Int) {
        guard slots[slot] != nil else { return }
        slots[slot] = nil
        keys[slot] = []
        count -= 1
        // Unlink from its bucket's chain.
        let bucket = Int(hashes[slot] & mask)
        if buckets[bucket] == slot {
            buckets[bucket] = next[slot]
        } else {
            var previous = buckets[bucket]
            while previous >= 0 && next[previous] != slot { previous = next[previous] }
            if previous >= 0 { next[previous] = next[slot] }
        }
        next[slot] = -1
    }
}
