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
/// quanta evicted first (`ClockCache`). Keys are compared in full after the
/// hash, so a hash collision can never hand out another token's successor.
/// The key is the old token, plus a NUL and the update when there is one
/// (a compact JWS never contains NUL, so the two forms cannot meet). Call
/// `clear()` after a key or config reload: entries were signed with the
/// old key and config.
public final class ReissueCache {
    private struct Entry {
        var newToken: [UInt8]
        var quantum: Int64
    }

    private var storage: ClockCache<Entry>
    /// This worker's prepared signing state, beside the cache because both
    /// are per worker and both are invalidated by a reload (`clear()`).
    public let workspace = SignerWorkspace()
    public var capacity: Int { storage.capacity }

    public init(capacity: Int = 1024) {
        storage = ClockCache(capacity: capacity)
    }

    /// Entries held (including ones from past quanta not yet dropped).
    public var count: Int { storage.count }

    /// Calls `body` with the cache key for a token and optional update and
    /// its hash: `tokenHash` (computed when nil) for a plain refresh, the
    /// hash of the combined key otherwise. Allocates only when there is an
    /// update.
    private func withKey<R>(_ token: UnsafeRawBufferPointer, _ updateKey: [UInt8]?, tokenHash: TokenHash?,
                            _ body: (UnsafeRawBufferPointer, TokenHash) -> R) -> R {
        guard let updateKey else { return body(token, tokenHash ?? TokenHash.of(token: token)) }
        var key = [UInt8]()
        key.reserveCapacity(token.count + 1 + updateKey.count)
        key.append(contentsOf: token)
        key.append(0)
        key.append(contentsOf: updateKey)
        return key.withUnsafeBytes { body($0, TokenHash.of($0)) }
    }

    /// The token reissued from `oldToken` with `updateKey` (the serialized
    /// claim update, nil for a plain refresh) in the quantum of `now`, or
    /// nil. An entry from another quantum is dropped.
    public func lookup(oldToken: UnsafeRawBufferPointer, updateKey: [UInt8]?, now: Int64) -> [UInt8]? {
        lookup(oldToken: oldToken, tokenHash: nil, updateKey: updateKey, now: now)
    }

    /// As `lookup(oldToken:updateKey:now:)`, reusing the token's hash from
    /// the verify cache (`VerifiedToken.tokenHash`) when there is one.
    func lookup(oldToken: UnsafeRawBufferPointer, tokenHash: TokenHash?, updateKey: [UInt8]?, now: Int64) -> [UInt8]? {
        let quantum = RefreshPolicy.quantumStart(now)
        return withKey(oldToken, updateKey, tokenHash: tokenHash) { key, hash in
            storage.lookup(key, hash: hash) { $0.quantum == quantum }
        }?.newToken
    }

    public func lookup(oldToken: [UInt8], updateKey: [UInt8]?, now: Int64) -> [UInt8]? {
        oldToken.withUnsafeBytes { lookup(oldToken: $0, updateKey: updateKey, now: now) }
    }

    /// Records `newToken` as reissued from `oldToken`/`updateKey` in the
    /// quantum of `now`, replacing any entry for the same key.
    public func insert(oldToken: UnsafeRawBufferPointer, updateKey: [UInt8]?, newToken: [UInt8], now: Int64) {
        insert(oldToken: oldToken, tokenHash: nil, updateKey: updateKey, newToken: newToken, now: now)
    }

    func insert(oldToken: UnsafeRawBufferPointer, tokenHash: TokenHash?, updateKey: [UInt8]?,
                newToken: [UInt8], now: Int64) {
        let quantum = RefreshPolicy.quantumStart(now)
        withKey(oldToken, updateKey, tokenHash: tokenHash) { key, hash in
            storage.insert(key, hash: hash, Entry(newToken: newToken, quantum: quantum)) { $0.quantum == quantum }
        }
    }

    public func insert(oldToken: [UInt8], updateKey: [UInt8]?, newToken: [UInt8], now: Int64) {
        oldToken.withUnsafeBytes { insert(oldToken: $0, updateKey: updateKey, newToken: newToken, now: now) }
    }

    /// Drops everything, prepared signing state included (after a key or
    /// config reload).
    public func clear() {
        storage.clear()
        workspace.clear()
    }
}
