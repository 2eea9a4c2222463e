/// The ECDSA nonce k of RFC 6979 §3.2 (HMAC-DRBG keyed by the private key
/// and the message hash), so the same key and message always sign to the
/// same bytes: two gateway instances refreshing one token produce identical
/// new tokens (SPEC §6).
enum DeterministicNonce {
    /// `privateKey` is the scalar x as `curve.fieldLength` big-endian bytes,
    /// `messageHash` is H(m) with the signature digest. Returns k as
    /// `curve.fieldLength` big-endian bytes, in [1, n-1].
    static func generate(privateKey: [UInt8], messageHash: [UInt8], digest: MessageDigest,
                         curve: EllipticCurve) throws(OpenSSLError) -> [UInt8] {
        let q = curve.order
        let qlen = curve.orderBits
        let hlen = digest.size
        // Step b-c.
        var v = [UInt8](repeating: 0x01, count: hlen)
        var k = [UInt8](repeating: 0x00, count: hlen)
        let x = int2octets(privateKey, length: q.count)
        let h = bits2octets(messageHash, q: q, qlen: qlen)
        // Step d-g.
        k = try HMACKey.mac(key: k, digest: digest, data: v + [0x00] + x + h)
        v = try HMACKey.mac(key: k, digest: digest, data: v)
        k = try HMACKey.mac(key: k, digest: digest, data: v + [0x01] + x + h)
        v = try HMACKey.mac(key: k, digest: digest, data: v)
        // Step h.
        while true {
            var t: [UInt8] = []
            while t.count * 8 < qlen {
                v = try HMACKey.mac(key: k, digest: digest, data: v)
                t += v
            }
            let candidate = bits2int(t, qlen: qlen, length: q.count)
            if !isZero(candidate) && compare(candidate, q) < 0 { return candidate }
            k = try HMACKey.mac(key: k, digest: digest, data: v + [0x00])
            v = try HMACKey.mac(key: k, digest: digest, data: v)
        }
    }

    /// RFC 6979 §2.3.2: the leftmost qlen bits of `bits` as an integer,
    /// written as `length` big-endian bytes.
    static func bits2int(_ bits: [UInt8], qlen: Int, length: Int) -> [UInt8] {
        let blen = bits.count * 8
        if blen <= qlen {
            return [UInt8](repeating: 0, count: length - bits.count) + bits
        }
        // Keep the first ceil(qlen/8) bytes, then drop the extra low bits.
        var out = Array(bits.prefix(length))
        let shift = length * 8 - qlen
        if shift > 0 {
            var carry: UInt8 = 0
            for i in 0..<out.count {
                let b = out[i]
                out[i] = carry | b >> shift
                carry = b << (8 - shift)
            }
        }
        return out
    }

    /// RFC 6979 §2.3.3: `x` left-padded (or left-truncated) to `length` bytes.
    static func int2octets(_ x: [UInt8], length: Int) -> [UInt8] {
        if x.count >= length { return Array(x.suffix(length)) }
        return [UInt8](repeating: 0, count: length - x.count) + x
    }

    /// RFC 6979 §2.3.4: bits2int(h) mod q, as `q.count` bytes. bits2int(h) <
    /// 2^qlen < 2q, so one conditional subtraction is the reduction.
    static func bits2octets(_ h: [UInt8], q: [UInt8], qlen: Int) -> [UInt8] {
        let z1 = bits2int(h, qlen: qlen, length: q.count)
        return compare(z1, q) >= 0 ? subtract(z1, q) : z1
    }

    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for i in 0..<a.count where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return 0
    }

    static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var out = a
        var borrow = 0
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            var d = Int(a[i]) - Int(b[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }

    static func isZero(_ a: [UInt8]) -> Bool { a.allSatisfy { $0 == 0 } }
}
