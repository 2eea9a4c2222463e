/// A fixed-size cache of verified tokens, keyed by the full token bytes, so
/// a client repeating its token skips the signature check.
///
/// One per worker: it is NOT thread-safe by design (no locks on the request
/// path); each worker thread owns its own instance and never shares it.
/// Entries live until the token's `exp` (never past it, so an entry cannot
/// outlive the token's validity, leeway aside) and are evicted by CLOCK
/// (second chance) when the cache is full (`ClockCache`). Call `clear()`
/// after a key reload so tokens verified with a removed key stop being
/// accepted. A hash collision can never return another token's claims: keys
/// are compared in full.
public final class VerifiedTokenCache {
    private var storage: ClockCache<VerifiedToken>
    /// This worker's prepared verify contexts, beside the cache because both
    /// are per worker and both are invalidated by a key reload (`clear()`).
    public let workspace = VerifierWorkspace()
    public var capacity: Int { storage.capacity }

    public init(capacity: Int = 4096) {
        storage = ClockCache(capacity: capacity)
    }

    public var count: Int { storage.count }

    /// The cached verification of `token`, unless absent or expired at `now`
    /// (an expired entry is dropped).
    public func lookup(_ token: UnsafeRawBufferPointer, now: Int64) -> VerifiedToken? {
        lookup(token, hash: TokenHash.of(token: token), now: now)
    }

    /// As `lookup(_:now:)` with the token's hash already computed.
    func lookup(_ token: UnsafeRawBufferPointer, hash: TokenHash, now: Int64) -> VerifiedToken? {
        storage.lookup(token, hash: hash) { $0.exp > now }
    }

    /// Caches `value` for `token`; ignored when the token is already expired at `now`.
    public func insert(_ token: UnsafeRawBufferPointer, _ value: VerifiedToken, now: Int64) {
        insert(token, hash: TokenHash.of(token: token), value, now: now)
    }

    func insert(_ token: UnsafeRawBufferPointer, hash: TokenHash, _ value: VerifiedToken, now: Int64) {
        guard value.exp > now else { return }
        storage.insert(token, hash: hash, value) { $0.exp > now }
    }

    /// Drops everything, prepared contexts included (after a key reload).
    public func clear() {
        storage.clear()
        workspace.clear()
    }
}
