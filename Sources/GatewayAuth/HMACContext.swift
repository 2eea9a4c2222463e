import COpenSSL

/// A mutable HMAC context owned by one worker: an `EVP_MAC_CTX` made once
/// (a duplicate of an `HMACKey`'s keyed template, or keyed later with
/// `rekey`), re-initialised per message with `EVP_MAC_init(ctx, NULL, ...)`,
/// which restarts from the stored ipad state (no key schedule, no provider
/// lookup, no context allocation; `HMACKey.authenticate` by contrast
/// duplicates and frees a whole context per call).
///
/// NOT thread-safe: every MAC mutates the context. One instance per worker
/// (and key), owned by that worker's workspace.
final class HMACContext {
    private let ctx: OpaquePointer
    let digest: MessageDigest

    /// A context carrying `key`'s secret and digest. Nil when OpenSSL cannot
    /// duplicate it (allocation failure; the caller falls back to `key`).
    init?(copying key: HMACKey) {
        guard let dup = key.duplicateContext() else { return nil }
        ctx = dup
        digest = key.digest
    }

    /// An unkeyed context for `digest`; call `rekey` before the first MAC.
    init(digest: MessageDigest) throws(OpenSSLError) {
        // A zero-length key is a valid HMAC key; it only fixes the digest.
        let template = try HMACKey(key: [], digest: digest)
        guard let dup = template.duplicateContext() else { throw OpenSSLError.capture("EVP_MAC_CTX_dup") }
        ctx = dup
        self.digest = digest
    }

    deinit { EVP_MAC_CTX_free(ctx) }

    var size: Int { digest.size }

    /// Replaces the key (the digest stays) and starts a MAC under it, as
    /// `begin` does: `update` and `finish` may follow directly. RFC 6979's
    /// DRBG changes K at every step; this reuses the context instead of
    /// making a new one.
    func rekey(_ key: UnsafeRawBufferPointer) -> Bool {
        // EVP_MAC_init reads a NULL key as "keep the previous key".
        withNonNull(key) { EVP_MAC_init(ctx, $0, key.count, nil) } == 1
    }

    /// Restarts with the current key. Then `update` any number of times and
    /// `finish`. False on an OpenSSL failure; the error queue is left for
    /// the caller.
    func begin() -> Bool { EVP_MAC_init(ctx, nil, 0, nil) == 1 }

    func update(_ data: UnsafeRawBufferPointer) -> Bool {
        data.isEmpty || withNonNull(data) { EVP_MAC_update(ctx, $0, data.count) } == 1
    }

    /// Writes the MAC to the start of `out` (at least `size` bytes).
    func finish(into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard out.count >= digest.size else { return false }
        var length = 0
        let finished = EVP_MAC_final(ctx, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, out.count)
        return finished == 1 && length == digest.size
    }

    /// The MAC of `data` under the current key, written to the start of `out`.
    func authenticate(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        begin() && update(data) && finish(into: out)
    }

}

/// What both HMAC holders do the same way: a MAC of `digest.size` bytes
/// written to a buffer, checked in constant time.
protocol MACComputing {
    var digest: MessageDigest { get }
    func authenticate(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool
}

extension MACComputing {
    /// Recomputes the MAC of `data` and compares it with `mac` in constant
    /// time (CRYPTO_memcmp), so timing reveals nothing about the expected
    /// value. False on mismatch or any OpenSSL failure (the queue is cleared).
    func verify(_ data: UnsafeRawBufferPointer, mac: UnsafeRawBufferPointer) -> Bool {
        guard mac.count == digest.size else { return false }
        // 64 bytes covers SHA-512; no heap allocation on the verify path.
        return withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { out in
            guard authenticate(data, into: out) else {
                OpenSSLError.clearQueue()
                return false
            }
            return ConstantTime.equals(UnsafeRawBufferPointer(rebasing: out[0..<digest.size]), mac)
        }
    }
}

extension HMACContext: MACComputing {}
extension HMACKey: MACComputing {}

