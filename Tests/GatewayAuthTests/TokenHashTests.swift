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
        #expect(TokenHash.of(token: token) == TokenHash.of(token: token))
        let cache = VerifiedTokenCache(capacity: 4)
        let miss = try verifier.verify(token, scopes: [], now: 1000, cache: cache).get()
        let hit = try verifier.verify(token, scopes: [], now: 1000, cache: cache).get()
        #expect(miss.tokenHash == TokenHash.of(token: token))
        #expect(hit.tokenHash == TokenHash.of(token: token))
        // Not part of what was verified.
        let plain = try verifier.verify(token, scopes: [], now: 1000).get()
        #expect(plain.tokenHash == nil)
        #expect(plain == miss)
    }

    /// A bare token is hashed on its tail (signature bytes) and length.
    @Test func tokenHashReadsTheTailAndTheLength() {
        let body = Array(repeating: UInt8(ascii: "a"), count: 200)
        let tail = Array("0123456789abcdefghijklmnopqrstuv".utf8)
        #expect(tail.count == TokenHash.tailBytes)
        var changedHead = body
        changedHead[3] = UInt8(ascii: "b")
        #expect(TokenHash.of(token: body + tail) == TokenHash.of(token: changedHead + tail))
        for i in tail.indices {
            var changed = tail
            changed[i] ^= 0x01
            #expect(TokenHash.of(token: body + changed) != TokenHash.of(token: body + tail))
        }
        #expect(TokenHash.of(token: body + [UInt8(ascii: "a")] + tail) != TokenHash.of(token: body + tail))
        // Short tokens: hashed whole.
        #expect(TokenHash.of(token: Array("a.b.c".utf8)) == TokenHash.of(Array("a.b.c".utf8)))
    }

    /// The attack the tail hash invites: a cached token's payload changed,
    /// its signature kept. Same hash, same length, but compared in full, so
    /// it is verified (and refused), never served from the cache.
    @Test func aForgedPayloadUnderACachedSignatureIsVerifiedNotServed() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let verifier = JWTVerifier(keys: try KeySet(keys: [key.verificationKey]), issuers: [], audiences: [], leewaySeconds: 0)
        let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k"}"#, claims: #"{"exp":2000,"sub":"alice"}"#,
                                        key: key).utf8)
        let cache = VerifiedTokenCache(capacity: 4)
        _ = try verifier.verify(token, scopes: [], now: 1000, cache: cache).get()
        // "alice" -> "alicf" inside the payload's base64url: one character.
        let dot = try #require(token.firstIndex(of: UInt8(ascii: ".")))
        var forged = token
        forged[dot + 10] = forged[dot + 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(TokenHash.of(token: forged) == TokenHash.of(token: token))
        let result = verifier.verify(forged, scopes: [], now: 1000, cache: cache)
        guard case .failure = result else {
            Issue.record("a forged token was accepted")
            return
        }
        #expect(cache.count == 1)
    }

    @Test func aWrongHashOnlyMissesInTheReissueCache() {
        let cache = ReissueCache(capacity: 4)
        let a = Array("a.b.c".utf8), b = Array("x.y.z".utf8)
        let newA = Array("new-a".utf8)
        a.withUnsafeBytes { cache.insert(oldToken: $0, tokenHash: TokenHash.of(token: a), updateKey: nil, newToken: newA, now: 100) }
        // Right hash: hit. Public path (hashes itself): same hit.
        #expect(a.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(token: a), updateKey: nil, now: 100) } == newA)
        #expect(cache.lookup(oldToken: a, updateKey: nil, now: 100) == newA)
        // Another token under a's hash: compared in full, so no answer.
        #expect(b.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(token: a), updateKey: nil, now: 100) } == nil)
        // a under a wrong hash: a miss, never another entry.
        #expect(a.withUnsafeBytes { cache.lookup(oldToken: $0, tokenHash: TokenHash.of(token: b), updateKey: nil, now: 100) } == nil)
    }
}
