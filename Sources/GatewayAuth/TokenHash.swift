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

    /// The hash of a bare token, for both caches: its last `tailBytes` bytes
    /// only, with its length. In every token a cache holds (the caches keep
    /// verified tokens only) those bytes are signature or MAC output, which
    /// nobody can choose without the key, so they spread the entries as
    /// well as the whole token would: a client still cannot build a chain
    /// of colliding entries. And a wrong match cannot happen: keys are
    /// compared in full. SipHash over all of a 250-byte token was 1,036
    /// instructions a request, on every request with a token.
    static func of(token bytes: UnsafeRawBufferPointer) -> TokenHash {
        guard bytes.count > tailBytes else { return of(bytes) }
        let tail = UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - tailBytes)...])
        let h = SipHash.hash(tail, key: processKey, compressionRounds: 1, finalizationRounds: 3)
        return TokenHash(value: h ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15))
    }

    static func of(token bytes: [UInt8]) -> TokenHash { bytes.withUnsafeBytes { of(token: $0) } }

    /// 32 base64url characters: 192 bits of an HS256 MAC or an ES256/RS256
    /// signature's end.
    static let tailBytes = 32

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
