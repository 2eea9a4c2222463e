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
}
