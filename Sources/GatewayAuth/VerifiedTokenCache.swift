/// A fixed-size cache of verified tokens, keyed by the full token bytes, so
/// a client repeating its token skips the signature check.
///
/// One per worker: it is NOT thread-safe by design (no locks on the request
/// path); each worker thread owns its own instance and never shares it.
/// Entries live until the token's `exp` (never past it, so an entry cannot
/// outlive the token's validity, leeway aside) and are evicted by CLOCK
/// (second chance) when the cache is full. Call `clear()` after a key reload
/// so tokens verified with a removed key stop being accepted.
///
/// Lookups hash the token with a per-process random seed (`Hasher`) to pick
/// a slot chain, then compare the full bytes, so a hash collision can never
/// return another token's claims.
public final class VerifiedTokenCache {
    private struct Entry {
        var token: [UInt8]
        var hash: Int
        var value: VerifiedToken
        var referenced: Bool
    }

    private var slots: [Entry?]
    /// hash -> slot indices (several tokens may share a hash).
    private var index: [Int: [Int]] = [:]
    private var hand = 0
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
        slots = Array(repeating: nil, count: self.capacity)
        index.reserveCapacity(self.capacity)
    }

    public var count: Int { index.values.reduce(0) { $0 + $1.count } }

    private func hash(_ token: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: token)
        return hasher.finalize()
    }

    /// The cached verification of `token`, unless absent or expired at `now`
    /// (an expired entry is dropped).
    public func lookup(_ token: UnsafeRawBufferPointer, now: Int64) -> VerifiedToken? {
        let h = hash(token)
        guard let chain = index[h] else { return nil }
        for slot in chain {
            guard let entry = slots[slot], entry.token.count == token.count,
                  entry.token.withUnsafeBytes({ $0.elementsEqual(token) }) else { continue }
            if entry.value.exp <= now {
                remove(slot: slot)
                return nil
            }
            slots[slot]?.referenced = true
            return entry.value
        }
        return nil
    }

    /// Caches `value` for `token`; ignored when the token is already expired at `now`.
    public func insert(_ token: UnsafeRawBufferPointer, _ value: VerifiedToken, now: Int64) {
        guard value.exp > now else { return }
        if lookup(token, now: now) != nil { return }
        let h = hash(token)
        let slot = victim(now: now)
        if slots[slot] != nil { remove(slot: slot) }
        slots[slot] = Entry(token: Array(token), hash: h, value: value, referenced: false)
        index[h, default: []].append(slot)
    }

    /// Drops everything (after a key reload).
    public func clear() {
        for i in slots.indices { slots[i] = nil }
        index.removeAll(keepingCapacity: true)
        hand = 0
    }

    /// CLOCK: the first empty or expired slot, else the first unreferenced
    /// one, clearing reference bits on the way.
    private func victim(now: Int64) -> Int {
        var steps = 0
        while true {
            let i = hand
            hand = (hand + 1) % capacity
            guard let entry = slots[i] else { return i }
            if entry.value.exp <= now || !entry.referenced || steps >= 2 * capacity { return i }
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
