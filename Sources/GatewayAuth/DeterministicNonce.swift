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
        var generator = try Generator(digest: digest, curve: curve)
        var k = [UInt8](repeating: 0, count: curve.order.count)
        let x = int2octets(privateKey, length: curve.order.count)
        let ok = x.withUnsafeBytes { xb in
            messageHash.withUnsafeBytes { hb in k.withUnsafeMutableBytes { generator.generate(x: xb, messageHash: hb, into: $0) } }
        }
        guard ok else { throw OpenSSLError.capture("RFC 6979 HMAC-DRBG") }
        return k
    }

    /// The RFC 6979 §3.2 HMAC-DRBG on one reused `HMACContext` (rekeyed at
    /// every change of K) and fixed scratch buffers: no context or array is
    /// made per signature. NOT thread-safe; one per worker and key.
    struct Generator {
        private let context: HMACContext
        /// Keyed once with K = 0x00...00, the key of every first step (d):
        /// `begin` restarts it from its stored pads, saving that step's key
        /// schedule (two digest blocks) per signature.
        private let zeroKeyed: HMACContext
        private let q: [UInt8]
        private let qlen: Int
        private var v: [UInt8]
        private var key: [UInt8]
        /// bits2octets(H(m)), q.count bytes.
        private var h: [UInt8]
        /// T of step h: whole HMAC outputs covering qlen bits.
        private var t: [UInt8]

        init(digest: MessageDigest, curve: EllipticCurve) throws(OpenSSLError) {
            context = try HMACContext(digest: digest)
            let zeroKeyed = try HMACContext(digest: digest)
            let zeros = [UInt8](repeating: 0, count: digest.size)
            guard zeros.withUnsafeBytes({ zeroKeyed.rekey($0) }) else { throw OpenSSLError.capture("EVP_MAC_init") }
            self.zeroKeyed = zeroKeyed
            q = curve.order
            qlen = curve.orderBits
            v = [UInt8](repeating: 0, count: digest.size)
            key = [UInt8](repeating: 0, count: digest.size)
            h = [UInt8](repeating: 0, count: q.count)
            let blocks = (q.count + digest.size - 1) / digest.size
            t = [UInt8](repeating: 0, count: blocks * digest.size)
        }

        /// Writes k (q.count big-endian bytes, in [1, n-1]) to `out` for the
        /// private scalar `x` (int2octets, q.count bytes) and the message hash.
        /// False on an OpenSSL failure or wrong sizes.
        mutating func generate(x: UnsafeRawBufferPointer, messageHash: UnsafeRawBufferPointer,
                               into out: UnsafeMutableRawBufferPointer) -> Bool {
            guard x.count == q.count, out.count == q.count else { return false }
            let context = self.context, zeroKeyed = self.zeroKeyed
            let (q, qlen) = (self.q, self.qlen)
            bits2octets(messageHash, into: &h)
            // V, K and T are derived from the private key: wiped after use.
            defer { wipe() }
            var zero: UInt8 = 0x00, one: UInt8 = 0x01
            return v.withUnsafeMutableBytes { v in
                key.withUnsafeMutableBytes { key in
                    h.withUnsafeBytes { h in
                        t.withUnsafeMutableBytes { t in
                            let v0 = UnsafeRawBufferPointer(v), k0 = UnsafeRawBufferPointer(key)
                            // K = HMAC_K(V || sep || x || h1); V = HMAC_K(V). The first
                            // MAC is under the K the previous step's second MAC used, so
                            // `context` already holds it and only restarts (`begin`, no
                            // key schedule); in step d, where K is still all zeros, it
                            // runs on the zero-keyed context. The second MAC is under the
                            // new K: `rekey` leaves the context started, so no `begin`.
                            func step(_ sep: UnsafeMutablePointer<UInt8>, withSeed: Bool, fromZeroKey: Bool = false) -> Bool {
                                let mac = fromZeroKey ? zeroKeyed : context
                                return mac.begin() && mac.update(v0)
                                    && mac.update(UnsafeRawBufferPointer(start: sep, count: 1))
                                    && (!withSeed || (mac.update(x) && mac.update(h)))
                                    && mac.finish(into: key)
                                    && context.rekey(k0) && context.update(v0) && context.finish(into: v)
                            }
                            // Step b-c.
                            for i in 0..<v.count { v[i] = 0x01; key[i] = 0x00 }
                            // Step d-g.
                            guard step(&zero, withSeed: true, fromZeroKey: true), step(&one, withSeed: true) else { return false }
                            // Step h.
                            while true {
                                var filled = 0
                                while filled * 8 < qlen {
                                    guard context.authenticate(v0, into: v) else { return false }
                                    for i in 0..<v.count { t[filled + i] = v[i] }
                                    filled += v.count
                                }
                                DeterministicNonce.bits2int(UnsafeRawBufferPointer(rebasing: t[0..<filled]), qlen: qlen, into: out)
                                if !DeterministicNonce.isZero(UnsafeRawBufferPointer(out)) && DeterministicNonce.compare(UnsafeRawBufferPointer(out), q) < 0 {
                                    return true
                                }
                                guard step(&zero, withSeed: false) else { return false }
                            }
                        }
                    }
                }
            }
        }

        private mutating func wipe() {
            for i in v.indices { v[i] = 0 }
            for i in key.indices { key[i] = 0 }
            for i in t.indices { t[i] = 0 }
        }

        /// RFC 6979 §2.3.4 into `out` (q.count bytes).
        private func bits2octets(_ hash: UnsafeRawBufferPointer, into out: inout [UInt8]) {
            out.withUnsafeMutableBytes { o in
                DeterministicNonce.bits2int(hash, qlen: qlen, into: o)
                if DeterministicNonce.compare(UnsafeRawBufferPointer(o), q) >= 0 { DeterministicNonce.subtract(o, q) }
            }
        }
    }

    /// RFC 6979 §2.3.2 into `out` (`out.count` bytes): the leftmost qlen
    /// bits of `bits` as a big-endian integer.
    static func bits2int(_ bits: UnsafeRawBufferPointer, qlen: Int, into out: UnsafeMutableRawBufferPointer) {
        let length = out.count
        if bits.count * 8 <= qlen {
            let pad = length - bits.count
            for i in 0..<length { out[i] = i < pad ? 0 : bits[i - pad] }
            return
        }
        for i in 0..<length { out[i] = bits[i] }
        let shift = length * 8 - qlen
        if shift > 0 {
            var carry: UInt8 = 0
            for i in 0..<length {
                let b = out[i]
                out[i] = carry | b >> shift
                carry = b << (8 - shift)
            }
        }
    }

    static func compare(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
        for i in 0..<a.count where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return 0
    }

    static func subtract(_ a: UnsafeMutableRawBufferPointer, _ b: [UInt8]) {
        var borrow = 0
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            var d = Int(a[i]) - Int(b[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            a[i] = UInt8(d)
        }
    }

    static func isZero(_ a: UnsafeRawBufferPointer) -> Bool { a.allSatisfy { $0 == 0 } }

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
