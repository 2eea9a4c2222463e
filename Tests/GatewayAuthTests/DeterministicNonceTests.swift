import Testing
@testable import GatewayAuth

@Suite struct DeterministicNonceTests {
    // RFC 6979 A.2.5, P-256 / SHA-256: the nonces themselves.
    @Test(arguments: [
        ("sample", "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60"),
        ("test", "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0"),
    ])
    func rfc6979P256(message: String, k: String) throws {
        let h = MessageDigest.sha256.hash(Array(message.utf8))
        let nonce = try DeterministicNonce.generate(privateKey: SigningKeyTests.x, messageHash: h,
                                                    digest: .sha256, curve: .p256)
        #expect(nonce == hexBytes(k))
    }

    @Test func bits2intShiftsForP521() {
        // 1024 bits of 0xFF truncated to 521 bits: 0x01FF..FF in 66 bytes.
        let out = DeterministicNonce.bits2int([UInt8](repeating: 0xFF, count: 128), qlen: 521, length: 66)
        #expect(out == [0x01] + [UInt8](repeating: 0xFF, count: 65))
        // Shorter input is left-padded.
        #expect(DeterministicNonce.bits2int([0xAB], qlen: 256, length: 32) == [UInt8](repeating: 0, count: 31) + [0xAB])
    }

    @Test func bits2octetsReducesModQ() {
        let q = EllipticCurve.p256.order
        // h = q + 1 reduces to 1.
        var h = q
        h[31] &+= 1
        #expect(DeterministicNonce.bits2octets(h, q: q, qlen: 256) == [UInt8](repeating: 0, count: 31) + [1])
    }

    @Test func curveOrdersMatchOpenSSL() throws {
        // Curve orders are hard-coded; check them against a real key's group by
        // signing with k = n - 1 (valid) through the shim.
        for curve in EllipticCurve.allCases {
            let evp = try EVPKey.generateEC(curve)
            var k = curve.order
            k[k.count - 1] -= 1
            let h = [UInt8](repeating: 0x11, count: 32)
            let sig = try evp.ecdsaSign(messageDigest: h, nonce: k, curve: curve)
            #expect(sig.count == 2 * curve.fieldLength)
        }
    }

    /// RFC 6979 §3.2 written out step by step, every HMAC a fresh one-shot
    /// `HMACKey`: the oracle for the generator's one reused context, its
    /// zero-keyed context and its restarts without rekeying.
    static func referenceNonce(x: [UInt8], h1: [UInt8], digest: MessageDigest, curve: EllipticCurve) throws -> [UInt8] {
        func hmac(_ key: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
            let mac = try HMACKey(key: key, digest: digest)
            var out = [UInt8](repeating: 0, count: digest.size)
            let ok = data.withUnsafeBytes { d in out.withUnsafeMutableBytes { mac.authenticate(d, into: $0) } }
            try #require(ok)
            return out
        }
        let q = curve.order, qlen = curve.orderBits
        let seed = DeterministicNonce.int2octets(x, length: q.count)
            + DeterministicNonce.bits2octets(h1, q: q, qlen: qlen)
        var v = [UInt8](repeating: 0x01, count: digest.size)
        var k = [UInt8](repeating: 0x00, count: digest.size)
        k = try hmac(k, v + [0x00] + seed)
        v = try hmac(k, v)
        k = try hmac(k, v + [0x01] + seed)
        v = try hmac(k, v)
        while true {
            var t: [UInt8] = []
            while t.count * 8 < qlen {
                v = try hmac(k, v)
                t += v
            }
            let candidate = DeterministicNonce.bits2int(t, qlen: qlen, length: q.count)
            if !DeterministicNonce.isZero(candidate) && DeterministicNonce.compare(candidate, q) < 0 { return candidate }
            k = try hmac(k, v + [0x00])
            v = try hmac(k, v)
        }
    }

    @Test func referenceMatchesRFC6979() throws {
        let h = MessageDigest.sha256.hash(Array("sample".utf8))
        let k = try Self.referenceNonce(x: SigningKeyTests.x, h1: h, digest: .sha256, curve: .p256)
        #expect(k == hexBytes("A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60"))
    }

    /// The JWS pairs (ES256, ES384, ES512) and a mixed one, one generator
    /// reused across messages as a worker reuses it.
    @Test(arguments: [(EllipticCurve.p256, MessageDigest.sha256), (.p384, .sha384), (.p521, .sha512), (.p521, .sha256)])
    func generatorMatchesTheReference(curve: EllipticCurve, digest: MessageDigest) throws {
        var x = try SecureRandom.bytes(curve.order.count)
        x[0] &= curve == .p521 ? 0x01 : 0x7F
        var generator = try DeterministicNonce.Generator(digest: digest, curve: curve)
        for i in 0..<12 {
            let h1 = digest.hash(Array("message \(i)".utf8))
            var k = [UInt8](repeating: 0, count: curve.order.count)
            let ok = x.withUnsafeBytes { xb in h1.withUnsafeBytes { hb in k.withUnsafeMutableBytes { generator.generate(x: xb, messageHash: hb, into: $0) } } }
            #expect(ok)
            #expect(k == (try Self.referenceNonce(x: x, h1: h1, digest: digest, curve: curve)))
        }
    }
}

