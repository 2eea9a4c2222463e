import COpenSSL
import Testing
@testable import GatewayAuth

@Suite struct ECDSASignatureTests {
    @Test func rawDERRoundTrip() throws {
        for curve in EllipticCurve.allCases {
            var raw = [UInt8](repeating: 0, count: 2 * curve.fieldLength)
            raw[curve.fieldLength - 1] = 7          // r = 7
            raw[curve.fieldLength] = 0x00
            raw[raw.count - 1] = 9                  // s = 9
            let der = try #require(raw.withUnsafeBytes { ECDSASignature.der(fromRaw: $0, curve: curve) })
            #expect(der == [0x30, 0x06, 0x02, 0x01, 0x07, 0x02, 0x01, 0x09])
            #expect(ECDSASignature.raw(fromDER: der, curve: curve) == raw)
        }
    }

    @Test func rangeChecks() {
        let curve = EllipticCurve.p256
        let n = curve.order
        var nMinus1 = n
        nMinus1[31] -= 1
        let one = [UInt8](repeating: 0, count: 31) + [1]
        let zero = [UInt8](repeating: 0, count: 32)
        func ok(_ r: [UInt8], _ s: [UInt8]) -> Bool {
            (r + s).withUnsafeBytes { ECDSASignature.der(fromRaw: $0, curve: curve) } != nil
        }
        #expect(ok(one, nMinus1))
        #expect(!ok(zero, one))
        #expect(!ok(one, zero))
        #expect(!ok(n, one))
        #expect(!ok(one, n))
        #expect(!ok([UInt8](repeating: 0xFF, count: 32), one))
        #expect([UInt8](repeating: 0, count: 63).withUnsafeBytes { ECDSASignature.der(fromRaw: $0, curve: curve) } == nil)
    }

    /// OpenSSL's encoding of r||s (BIGNUMs and i2d_ECDSA_SIG), the oracle
    /// for the hand-written DER.
    static func opensslDER(_ raw: [UInt8], half: Int) -> [UInt8]? {
        guard let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(half), nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + half, Int32(half), nil) }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: 2 * (half + 4) + 4)
        let length = out.withUnsafeMutableBufferPointer { b -> Int32 in
            var cursor = b.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        guard length > 0 else { return nil }
        return Array(out[0..<Int(length)])
    }

    @Test func derIsOpenSSLsForManyValues() throws {
        var rng = SystemRandomNumberGenerator()
        for curve in EllipticCurve.allCases {
            let half = curve.fieldLength
            var checked = 0
            for i in 0..<400 {
                var raw = (0..<(2 * half)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // High bits set and clear, leading zero bytes of r or s.
                switch i % 5 {
                case 0: raw[0] |= 0x80; raw[half] &= 0x7F
                case 1: for j in 0..<(i % 7 + 1) { raw[j] = 0 }
                case 2: for j in 0..<(i % 9 + 1) { raw[half + j] = 0 }; raw[half + 12] |= 0x80
                case 3: raw[0] = 0; raw[1] |= 0x80
                default: break
                }
                // Keep r, s below n (P-521's top byte holds one bit).
                if curve == .p521 { raw[0] &= 0x01; raw[half] &= 0x01 } else { raw[0] &= 0xFE; raw[half] &= 0xFE }
                guard let ours = raw.withUnsafeBytes({ ECDSASignature.der(fromRaw: $0, curve: curve) }) else { continue }
                #expect(ours == Self.opensslDER(raw, half: half), "\(curve) \(raw)")
                #expect(ours.count <= ECDSASignature.maxDERCount(curve))
                #expect(ECDSASignature.raw(fromDER: ours, curve: curve) == raw)
                checked += 1
            }
            #expect(checked > 300)
        }
    }
}
