/// EMSA-PSS encoding (RFC 8017 §9.1.1) with a caller-supplied salt.
///
/// OpenSSL always draws a random salt, but the gateway needs every signer to
/// be deterministic so two instances reissuing the same token produce
/// byte-identical tokens (SPEC §6). `SigningKey` therefore derives the salt
/// from the key and message (an HMAC, see there), encodes here, and applies
/// the raw RSA private operation. Verifiers cannot tell the difference: PSS
/// verification only recovers the salt, it never checks where it came from.
enum RSAPSSEncoding {
    /// The encoded message EM for a modulus of `modulusBits` bits, left-padded
    /// with a zero byte to the modulus length when emLen is one byte shorter.
    /// `salt.count` must equal the digest length (RFC 7518 §3.5).
    static func encode(message: UnsafeRawBufferPointer, salt: [UInt8], digest: MessageDigest,
                       modulusBits: Int) -> [UInt8]? {
        let hLen = digest.size
        let emBits = modulusBits - 1
        let emLen = (emBits + 7) / 8
        guard emLen >= hLen + salt.count + 2 else { return nil }
        let mHash = digest.hash(message)
        let mPrime = [UInt8](repeating: 0, count: 8) + mHash + salt
        let h = digest.hash(mPrime)
        var db = [UInt8](repeating: 0, count: emLen - salt.count - hLen - 2)
        db.append(0x01)
        db += salt
        let mask = mgf1(seed: h, length: emLen - hLen - 1, digest: digest)
        for i in db.indices { db[i] ^= mask[i] }
        // Clear the leftmost 8*emLen - emBits bits so EM < 2^emBits <= n.
        let clear = 8 * emLen - emBits
        if clear > 0 { db[0] &= 0xFF >> clear }
        var em = db + h
        em.append(0xBC)
        let modulusLength = (modulusBits + 7) / 8
        if em.count < modulusLength { em = [UInt8](repeating: 0, count: modulusLength - em.count) + em }
        return em
    }

    /// MGF1 (RFC 8017 §B.2.1).
    static func mgf1(seed: [UInt8], length: Int, digest: MessageDigest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length + digest.size)
        var counter: UInt32 = 0
        while out.count < length {
            let c = [UInt8(truncatingIfNeeded: counter >> 24), UInt8(truncatingIfNeeded: counter >> 16),
                     UInt8(truncatingIfNeeded: counter >> 8), UInt8(truncatingIfNeeded: counter)]
            out += digest.hash(seed + c)
            counter += 1
        }
        return Array(out.prefix(length))
    }
}
