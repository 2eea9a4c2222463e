/// Remembers the tokens this worker reissued in the current quantum, keyed
/// by the full old token bytes plus the serialized claim update (if any),
/// so a page that keeps sending its old token until it picks up the new one
/// costs a lookup instead of a signature (ES256 signing is ~30 µs, RSA far
/// more).
///
/// One per worker: NOT thread-safe by design (no locks on the request path);
/// each worker thread owns its own instance and never shares it.
///
/// An entry answers only inside the quantum it was made in
/// (`RefreshPolicy.quantumStart`); a lookup in a later quantum is a miss and
/// drops it, so a cached token is always the one a recompute would give
/// (same `iat`). Fixed capacity, CLOCK (second chance) eviction, stale
/// quanta evicted first. Keys are compared in full after the hash, so a
/// hash collision can never hand out another token's successor. Call
/// `clear()` after a key or config reload: entries were signed with the
/// old key and config.
public final class ReissueCache {
    private struct Entry {
        var oldToken: [UInt8]
        var updateKey: [UInt8]?
        var hash: Int
        var newToken: [UInt8]
        var quantum: Int64
        var referenced: Bool
    }

    private var slots: [Entry?]
    /// hash -> slot indices (several keys may share a hash).
    private var index: [Int: [Int]] = [:]
    private var hand = 0
    public let capacity: Int

    public init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
        index.reserveCapacity(self.capacity)
    }

    /// Entries held (including ones from past quanta not yet dropped).
    public var count: Int { index.values.reduce(0) { $0 + $1.count } }

    private func hash(_ token: UnsafeRawBufferPointer, _ updateKey: [UInt8]?) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: token)
        if let updateKey {
            hasher.combine(1 as UInt8)
            updateKey.withUnsafeBytes { hasher.combine(bytes: $0) }
        } else {
            hasher.combine(0 as UInt8)
        }
        return hasher.finalize()
    }

    private func find(_ token: UnsafeRawBufferPointer, _ updateKey: [UInt8]?, hash h: Int) -> Int? {
        guard let chain = index[h] else { return nil }
        for slot in chain {
            guard let entry = slots[slot], entry.updateKey == updateKey, entry.oldToken.count == token.count,
                  entry.oldToken.withUnsafeBytes({ $0.elementsEqual(token) }) else { continue }
            return slot
        }
        return nil
    }

    /// The token reissued from `oldToken` with `updateKey` (the serialized
    /// claim update, nil for a plain refresh) in the quantum of `now`, or
    /// nil. An entry from another quantum is dropped.
    public func lookup(oldToken: UnsafeRawBufferPointer, updateKey: [UInt8]?, now: Int64) -> [UInt8]? {
        let h = hash(oldToken, updateKey)
        guard let slot = find(oldToken, updateKey, hash: h), let entry = slots[slot] else { return nil }
        guard entry.quantum == RefreshPolicy.quantumStart(now) else {
            remove(slot: slot)
            return nil
        }
        slots[slot]?.referenced = true
        return entry.newToken
    }

    public func lookup(oldToken: [UInt8], updateKey: [UInt8]?, now: Int64) -> [UInt8]? {
        oldToken.withUnsafeBytes { lookup(oldToken: $0, updateKey: updateKey, now: now) }
    }

    /// Records `newToken` as reissued from `oldToken`/`updateKey` in the
    /// quantum of `now`, replacing any entry for the same key.
    public func insert(oldToken: UnsafeRawBufferPointer, updateKey: [UInt8]?, newToken: [UInt8], now: Int64) {
        let h = hash(oldToken, updateKey)
        let quantum = RefreshPolicy.quantumStart(now)
        if let slot = find(oldToken, updateKey, hash: h) {
            slots[slot]?.newToken = newToken
            slots[slot]?.quantum = quantum
            return
        }
        let slot = victim(quantum: quantum)
        if slots[slot] != nil { remove(slot: slot) }
        slots[slot] = Entry(oldToken: Array(oldToken), updateKey: updateKey, hash: h, newToken: newToken,
                            quantum: quantum, referenced: false)
        index[h, default: []].append(slot)
    }

    public func insert(oldToken: [UInt8], updateKey: [UInt8]?, newToken: [UInt8], now: Int64) {
        oldToken.withUnsafeBytes { insert(oldToken: $0, updateKey: updateKey, newToken: newToken, now: now) }
    }

    /// Drops everything (after a key or config reload).
    public func clear() {
        for i in slots.indices { slots[i] = nil }
        index.removeAll(keepingCapacity: true)
        hand = 0
    }

    /// CLOCK: the first empty slot or one from another quantum, else the
    /// first unreferenced one, clearing reference bits on the way (bounded:
    /// after two turns of the hand every bit is clear).
    private func victim(quantum: Int64) -> Int {
        var steps = 0
        while true {
            let i = hand
            hand = (hand + 1) % capacity
            guard let entry = slots[i] else { return i }
            if entry.quantum != quantum || !entry.referenced || steps >= 2 * capacity { return i }
            slots[i]?.referenced = false
            steps += 1
        }
    }

    private func remove(slot: Int) {
        guard let entry = slots[slot] else { return }
        slots[slot] = nil
        if var chain = index[entry.hash] {
            chain.removeAll { $0 == slot }
            index[entry.hash] = chain.isEmpty ? nil : chain
        }
    }
}
