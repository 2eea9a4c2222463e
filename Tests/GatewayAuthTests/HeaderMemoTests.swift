import Testing
@testable import GatewayAuth

/// The worker path remembers its last accepted header segment
/// (`JWSToken.HeaderMemo`); these check it never changes an answer: a
/// different header is read in full, a remembered one still needs its own
/// valid signature and claims, and alternating kids select their own keys.
@Suite struct HeaderMemoTests {
    static let now = JWTVerifierTests.now

    @Test func aRememberedHeaderChangesNoAnswer() throws {
        let a = try TestKeys.signer(for: .hs256, kid: "a")
        let b = try SigningKey.hmac(secret: [UInt8](repeating: 0x21, count: 32), algorithm: .hs256, kid: "b")
        let v = try JWTVerifierTests.verifier([a.verificationKey, b.verificationKey])
        let cache = VerifiedTokenCache(capacity: 64)
        let claims = JWTVerifierTests.claims()
        func verify(_ token: String) -> Result<VerifiedToken, AuthFailure> {
            v.verify(Array(token.utf8), scopes: [], now: Self.now, cache: cache)
        }
        let headerA = #"{"alg":"HS256","kid":"a"}"#, headerB = #"{"alg":"HS256","kid":"b"}"#
        for i in 0..<4 {
            // Alternating kids: each token checked with its own key.
            let ta = try makeToken(header: headerA, claims: JWTVerifierTests.claims(#","n":\#(i)"#), key: a)
            let tb = try makeToken(header: headerB, claims: JWTVerifierTests.claims(#","n":\#(i)"#), key: b)
            #expect(try verify(ta).get().kid == "a")
            #expect(try verify(tb).get().kid == "b")
            // The remembered header with the other key's signature.
            let forged = try makeToken(header: headerB, claims: JWTVerifierTests.claims(#","m":\#(i)"#), key: a)
            #expect(verify(forged) == .failure(.badSignature))
        }
        // Right after an accepted header: headers that must still be refused.
        _ = try verify(try makeToken(header: headerA, claims: claims, key: a)).get()
        for header in [#"{"alg":"none","kid":"a"}"#, #"{"alg":"HS256","kid":"a","crit":["x"]}"#,
                       #"{"alg":"HS256","kid":"a","kid":"b"}"#, #"{"alg":"RS256","kid":"a"}"#, #"{"alg":"HS256","kid":7}"#,
                       #"{"alg":"HS256","kid":"a"} "#] {
            let token = try makeToken(header: header, claims: claims, key: a)
            let expected = v.verify(Array(token.utf8), scopes: [], now: Self.now)  // no memo
            guard case .failure(let failure) = expected else {
                // Only trailing whitespace is valid JSON among these.
                #expect(header.hasSuffix(" "))
                #expect(try verify(token).get().kid == "a")
                continue
            }
            #expect(verify(token) == .failure(failure), "\(header)")
        }
        // The remembered header with bad claims is judged on the claims.
        let expired = try makeToken(header: headerA, claims: JWTVerifierTests.claims(exp: Self.now - 100), key: a)
        #expect(verify(expired) == .failure(.expired))
    }
}
