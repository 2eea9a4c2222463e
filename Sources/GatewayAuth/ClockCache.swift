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
        var key: [UInt8]
        var hash: UInt64
        var value: Value
        var referenced: Bool
    }

    private var slots: [Entry?]
    /// hash -> slot indices (several keys may share a hash).
    private var index: [UInt64: [Int]] = [:]
    private var hand = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
        index.reserveCapacity(self.capacity)
    }

    var count: Int { index.values.reduce(0) { $0 + $1.count } }

    private func find(_ key: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        guard let chain = index[h] else { return nil }
        for slot in chain {
            if let entry = slots[slot], entry.key.count == key.count,
               entry.key.withUnsafeBytes({ $0.elementsEqual(key) }) { return slot }
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
        slots[slot] = Entry(key: Array(key), hash: h, value: value, referenced: false)
        index[h, default: []].append(slot)
    }

    mutating func clear() {
        for i in slots.indices { slots[i] = nil }
        index.removeAll(keepingCapacity: true)
        hand = 0
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
        guard let entry = slots[slot] else { return }
        slots[slot] = nil
        if var chain = index[entry.hash] {
            chain.removeAll { $0 == slot }
            index[entry.hash] = chain.isEmpty ? nil : chain
        }
    }
}
