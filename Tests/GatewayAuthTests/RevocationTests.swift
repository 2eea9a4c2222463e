import GatewayAuth
import Testing

@Suite struct RevocationTests {
    @Test func idDependsOnTheTargetOnly() {
        let a = Revocation(target: .jti("abc"), created: 1, until: 2)
        let b = Revocation(target: .jti("abc"), created: 100, until: 200)
        #expect(a.id == b.id)
        #expect(a.id.utf8.count == 22)
        #expect(a.id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        })
    }

    @Test func kindsAndTimesGiveDistinctIDs() {
        let ids = Set([
            Revocation.id(for: .jti("x")), Revocation.id(for: .sid("x")),
            Revocation.id(for: .subject("x", before: 10)), Revocation.id(for: .subject("x", before: 11)),
            Revocation.id(for: .jti("x\u{0}sid")),
        ])
        #expect(ids.count == 5)
    }

    @Test func successorIsDeterministicAndKeyed() throws {
        let k1 = [UInt8](repeating: 1, count: 32), k2 = [UInt8](repeating: 2, count: 32)
        let t = Array("token".utf8)
        let s1 = try SessionCrypto.successor(of: t, sessionKey: k1)
        #expect(try SessionCrypto.successor(of: t, sessionKey: k1) == s1)
        #expect(try SessionCrypto.successor(of: t, sessionKey: k2) != s1)
        #expect(s1.utf8.count == 43)
        #expect(SessionCrypto.tokenHash(Array(s1.utf8)).count == 32)
        #expect(try SessionCrypto.newRefreshToken() != SessionCrypto.newRefreshToken())
    }
}
