import Testing
@testable import GatewayAuth

@Suite struct TokenHashTests {
    static let key: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908)

    func sip24(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { SipHash.hash($0, key: Self.key, compressionRounds: 2, finalizationRounds: 4) }
    }

    /// The round function and message padding, checked on SipHash-2-4,
    /// which has published vectors (key 00..0f, message 00..(n-1)); the
    /// caches use the same code with 1 and 3 rounds.
    @Test func sipHash24ReferenceVectors() {
        // Aumasson & Bernstein, "SipHash", appendix A (15-byte message).
        #expect(sip24(Array(0..<15)) == 0xa129_ca61_49be_45e5)
        // Reference implementation vectors.h, messages of 0, 1, 7 and 8 bytes.
        #expect(sip24([]) == 0x726f_db47_dd0e_0e31)
        #expect(sip24([0]) == 0x74f8_39c5_93dc_67fd)
        #expect(sip24(Array(0..<7)) == 0xab02_00f5_8b01_d137)
        #expect(sip24(Array(0..<8)) == 0x93f5_f579_9a93_2462)
    }

    @Test func sipHash13DependsOnKeyAndEveryByte() {
        let message = Array("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig".utf8)
        let base = message.withUnsafeBytes { SipHash.hash($0, key: Self.key, compressionRounds: 1, finalizationRounds: 3) }
        let otherKey = message.withUnsafeBytes { SipHash.hash($0, key: (1, 2), compressionRounds: 1, finalizationRounds: 3) }
        #expect(base != otherKey)
        for i in message.indices {
            var changed = message
            changed[i] ^= 0x01
            let h = changed.withUnsafeBytes { SipHash.hash($0, key: Self.key, compressionRounds: 1, finalizationRounds: 3) }
            #expect(h != base)
        }
        // Length is hashed: a trailing zero byte changes the result.
        let longer = (message + [0]).withUnsafeBytes { SipHash.hash($0, key: Self.key, compressionRounds: 1, finalizationRounds: 3) }
        #expect(longer != base)
    }

    @Test func processHashIsStableAndCarriedFromTheVerifyCache() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let verifier = JWTVerifier(keys: try KeySet(keys: [key.verificationKey]), issuers: [], audiences: [], leewaySeconds: 0)
        let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k"}"#, claims: #"{"exp":2000}"#, key: key).utf8)
        #expect(TokenHash.of(token) == TokenHash.of(token))
        let cache = VerifiedTokenCache(capacity: 4)
        let miss = try verifier.verify(token, scopes: [], now: 1000, cache: cache).get()
        let hit = try verifier.verify(token, scopes: [], now: 1000, cache: cache).get()
        #expect(miss.tokenHash == TokenHash.of(token))
        #expect(hit.tokenHash == TokenHash.of(token))
        // Not part of what was verified.
        let plain = try verifier.verify(token, scopes: [], now: 1000).get()
        #expect(plain.tokenHash == nil)
        #expect(plain == miss)
    }

    @Test func aWrongHashOnlyMissesInTheReissueCache() {
        let cache = ReissueCache(capacity: 4)
        let a = Array("a.b.c".utf8), b = Array("x.y.z".utf8)
        let newA = Array("new-a".utf8)
        a.withUnsafeBytes { cache.insert(oldToken: $0, tokenHash: TokenHash.of(a), updateKey: nil, newToken: newA, now: 100) }
        // Right hash: hit. Public path (hashes itself): same hit.
        #expect(a.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(a), updateKey: nil, now: 100) } == newA)
        #expect(cache.lookup(oldToken: a, updateKey: nil, now: 100) == newA)
        // Another token under a's hash: compared in full, so no answer.
        #expect(b.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(a), updateKey: nil, now: 100) } == nil)
        // a under a wrong hash: a miss, never another entry.
        #expect(a.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(b), updateKey: nil, now: 100) } == nil)
    }
}
