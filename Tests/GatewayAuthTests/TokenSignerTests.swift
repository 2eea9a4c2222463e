import Testing
@testable import GatewayAuth

@Suite struct TokenSignerTests {
    @Test(arguments: JWSAlgorithm.allCases)
    func deterministicAndVerifiable(alg: JWSAlgorithm) throws {
        let key = try TestKeys.signer(for: alg, kid: "gw-1")
        var claims = JSONObject()
        claims["sub"] = .string("alice")
        claims["exp"] = .int(2_000_000_000)
        claims["roles"] = .array([.string("a"), .string("b")])
        let signer = TokenSigner(key: key)
        let one = try signer.sign(claims: claims)
        let two = try signer.sign(claims: claims)
        #expect(one == two)
        let decoded = try JWSToken.decode(one)
        #expect(decoded.header.keys == ["alg", "kid", "typ"])
        #expect(decoded.algorithm == alg)
        #expect(decoded.kid == "gw-1")
        #expect(decoded.payload.text == #"{"sub":"alice","exp":2000000000,"roles":["a","b"]}"#)
        let verifier = JWTVerifier(keys: try KeySet(keys: [key.verificationKey]), issuers: [], audiences: [], leewaySeconds: 0)
        #expect(try verifier.verify(one, scopes: [], now: 1_900_000_000).get().sub == "alice")
    }

    @Test func twoInstancesWithTheSameKeyAgree() throws {
        let a = TokenSigner(key: try TestKeys.signer(for: .ps384, kid: "k"))
        let b = TokenSigner(key: try TestKeys.signer(for: .ps384, kid: "k"))
        let claims = JSONObject(["sub": .string("bob"), "exp": .int(5)])
        #expect(try a.sign(claims: claims) == b.sign(claims: claims))
    }
}
