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
}
