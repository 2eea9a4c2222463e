import COpenSSL

/// The keyed hash of a token's bytes that finds it in the per-worker caches
/// (`VerifiedTokenCache`, `ReissueCache`). Computed once per request, when
/// the verify cache is consulted, and carried on the `VerifiedToken` to the
/// reissue cache, so the token is hashed once, not once per cache.
///
/// SipHash-1-3 (Aumasson & Bernstein; the variant Rust and Swift use for
/// hash tables) under a 128-bit key drawn once per process from OpenSSL's
/// DRBG, so a client cannot choose tokens that collide in the caches. A
/// collision still never returns another token's entry: the caches compare
/// keys in full.
struct TokenHash: Hashable, Sendable {
    let value: UInt64

    /// The hash of `bytes` under the process key.
    static func of(_ bytes: UnsafeRawBufferPointer) -> TokenHash {
        TokenHash(value: SipHash.hash(bytes, key: processKey, compressionRounds: 1, finalizationRounds: 3))
    }

    static func of(_ bytes: [UInt8]) -> TokenHash { bytes.withUnsafeBytes { of($0) } }

    /// Drawn once, on first use, from RAND_bytes; if the DRBG cannot be
    /// seeded, from the system generator (getrandom), which is as strong.
    static let processKey: (UInt64, UInt64) = {
        var words: (UInt64, UInt64) = (0, 0)
        let ok = withUnsafeMutableBytes(of: &words) { RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 16) }
        if ok != 1 {
            OpenSSLError.clearQueue()
            var system = SystemRandomNumberGenerator()
            words = (system.next(), system.next())
        }
        return words
    }()
}

/// SipHash-c-d over bytes with a 128-bit key (k0, k1: the key's two
/// little-endian halves). Generic in the round counts so the test can check
/// the code against the paper's SipHash-2-4 vector; the caches use 1-3.
enum SipHash {
    @inline(__always)
    private static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
        v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, key: (UInt64, UInt64),
                     compressionRounds c: Int, finalizationRounds d: Int) -> UInt64 {
        var v0: UInt64 = key.0 ^ 0x736f_6d65_7073_6575
        var v1: UInt64 = key.1 ^ 0x646f_7261_6e64_6f6d
        var v2: UInt64 = key.0 ^ 0x6c79_6765_6e65_7261
        var v3: UInt64 = key.1 ^ 0x7465_6462_7974_6573
        let count = bytes.count
        let whole = count & ~7
        var i = 0
        while i < whole {
            let m = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            v3 ^= m
            for _ in 0..<c { round(&v0, &v1, &v2, &v3) }
            v0 ^= m
            i += 8
        }
        var last = UInt64(truncatingIfNeeded: count) << 56
        var shift: UInt64 = 0
        while i < count {
            last |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        v3 ^= last
        for _ in 0..<c { round(&v0, &v1, &v2, &v3) }
        v0 ^= last
        v2 ^= 0xff
        for _ in 0..<d { round(&v0, &v1, &v2, &v3) }
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(_ n: UInt64) -> UInt64 { self << n | self >> (64 - n) }
}
