import Testing
@testable import GatewayAuth

@Suite struct SigningKeyTests {
    /// RFC 6979 appendix A.2.5: P-256 key, SHA-256.
    static let x = hexBytes("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
    static let ux = hexBytes("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6")
    static let uy = hexBytes("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")

    static func rfc6979Key() throws -> SigningKey {
        let evp = try EVPKey.ec(curve: .p256, x: ux, y: uy, d: x)
        return try SigningKey(evpKey: evp, algorithm: .es256, kid: "rfc6979", source: "test")
    }

    @Test(arguments: [
        ("sample", "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                 + "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
        ("test", "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
               + "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"),
    ])
    func rfc6979A25(message: String, expected: String) throws {
        let key = try Self.rfc6979Key()
        let signature = try key.sign(Array(message.utf8))
        #expect(signature == hexBytes(expected))
        #expect(key.verificationKey.verify(signingInput: Array(message.utf8), signature: signature))
    }

    @Test func rfc8037A4Ed25519Signing() throws {
        let evp = try EVPKey.ed25519(privateSeed: try #require(Base64URL.decode(RFC8037.d)))
        let key = try SigningKey(evpKey: evp, algorithm: .edDSA, kid: nil, source: "test")
        let (input, expected) = try split(RFC8037.token)
        #expect(try key.sign(input) == expected)
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func signVerifyRoundTripIsDeterministic(alg: JWSAlgorithm) throws {
        let key = try TestKeys.signer(for: alg)
        let input = Array("eyJhbGciOiJ4In0.eyJzdWIiOiJhbGljZSJ9".utf8)
        let first = try key.sign(input)
        let second = try key.sign(input)
        #expect(first == second)
        #expect(key.verificationKey.verify(signingInput: input, signature: first))
        #expect(!key.verificationKey.verify(signingInput: flipped(input, at: 3), signature: first))
        if case .ecdsa(let curve) = alg.family { #expect(first.count == 2 * curve.fieldLength) }
        // A different message gives a different signature (salt/nonce depend on it).
        #expect(try key.sign(input + [0x41]) != first)
    }

    @Test(arguments: [JWSAlgorithm.rs256, .ps256, .es256, .edDSA])
    func freshlyGeneratedKeysWork(alg: JWSAlgorithm) throws {
        let key = try SigningKey.generate(alg, kid: "g")
        let input = Array("a.b".utf8)
        #expect(key.verificationKey.verify(signingInput: input, signature: try key.sign(input)))
    }

    @Test func pssSignaturesVerifyWithOpenSSLsOwnPSS() throws {
        // The deterministic encoder must produce what a standard PSS verifier
        // (salt length = hash length) accepts, for each hash size.
        for alg in [JWSAlgorithm.ps256, .ps384, .ps512] {
            let key = try TestKeys.signer(for: alg)
            let pub = try VerificationKey.publicKey(pem: try Fixture.bytes("rsa2048.pub.pem"), algorithm: alg, kid: nil)
            let input = Array("header.payload".utf8)
            #expect(pub.verify(signingInput: input, signature: try key.sign(input)))
        }
    }

    @Test func traditionalPEMFormsLoad() throws {
        _ = try SigningKey.privateKey(pem: try Fixture.bytes("rsa2048.traditional.key.pem"), algorithm: .rs256, kid: nil)
        _ = try SigningKey.privateKey(pem: try Fixture.bytes("ecp256.traditional.key.pem"), algorithm: .es256, kid: nil)
    }

    @Test func encryptedPEMFailsWithoutPrompting() throws {
        #expect(throws: KeyError.self) {
            try SigningKey.privateKey(pem: try Fixture.bytes("rsa2048.encrypted.key.pem"), algorithm: .rs256, kid: nil)
        }
    }

    @Test func derivedSecretsAreStableAndLabelled() throws {
        let a = try TestKeys.signer(for: .es256)
        let b = try TestKeys.signer(for: .es256)
        #expect(try a.deriveSecret(label: "jti") == b.deriveSecret(label: "jti"))
        #expect(try a.deriveSecret(label: "jti") != a.deriveSecret(label: "other"))
        #expect(try a.deriveSecret(label: "jti").count == 32)
    }
}
