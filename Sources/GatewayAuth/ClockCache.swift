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
        var hash: UInt64
        var value: Value
        var referenced: Bool
    }

    private var slots: [Entry?]
    /// Each slot's key, apart from `slots` so a lookup compares bytes
    /// without copying (and retaining) the entry's value.
    private var keys: [[UInt8]]
    /// hash -> first slot of the chain of keys sharing that hash; `next`
    /// links the chain (-1 ends it). Several keys may share a hash; linking
    /// through slots costs no allocation per entry (an array per hash did).
    private var index: [UInt64: Int] = [:]
    private var next: [Int]
    private var hand = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
        keys = Array(repeating: [], count: self.capacity)
        next = Array(repeating: -1, count: self.capacity)
        index.reserveCapacity(self.capacity)
    }

    private(set) var count = 0

    private func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        var slot = index[h] ?? -1
        while slot >= 0 {
            if keys[slot].withUnsafeBytes({ ByteEquality.equal($0, key) }) { return slot }
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
        slots[slot] = Entry(hash: h, value: value, referenced: false)
        keys[slot] = Array(key)
        count += 1
        next[slot] = index[h] ?? -1
        index[h] = slot
    }

    mutating func clear() {
        for i in slots.indices {
            slots[i] = nil
            keys[i] = []
            next[i] = -1
        }
        index.removeAll(keepingCapacity: true)
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
        guard let h = slots[slot]?.hash else { return }
        slots[slot] = nil
        keys[slot] = []
        count -= 1
        // Unlink from its hash's chain.
        if index[h] == slot {
            index[h] = next[slot] >= 0 ? next[slot] : nil
        } else {
            var previous = index[h] ?? -1
            while previous >= 0 && next[previous] != slot { previous = next[previous] }
            if previous >= 0 { next[previous] = next[slot] }
        }
        next[slot] = -1
    }
}
