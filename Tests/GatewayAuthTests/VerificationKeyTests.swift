import Testing
@testable import GatewayAuth

@Suite struct VerificationKeyTests {
    static func jwk(_ json: String, alg: JWSAlgorithm? = nil) throws -> VerificationKey {
        let object = try #require(try JSONParser.parse(json).objectValue)
        return try JWK.verificationKey(object, defaultAlgorithm: alg, allowHMAC: true, source: "test")
    }

    /// Verifies `token` with `key`, and checks that flipping any one of a
    /// few bits in the signing input or the signature breaks it.
    func expectKnownAnswer(_ token: String, _ key: VerificationKey) throws {
        let (input, sig) = try split(token)
        #expect(key.verify(signingInput: input, signature: sig))
        for i in [0, input.count / 2, input.count - 1] {
            #expect(!key.verify(signingInput: flipped(input, at: i), signature: sig))
        }
        for i in [0, sig.count / 2, sig.count - 1] {
            #expect(!key.verify(signingInput: input, signature: flipped(sig, at: i)))
        }
        #expect(!key.verify(signingInput: input, signature: Array(sig.dropLast())))
        #expect(!key.verify(signingInput: input, signature: []))
    }

    @Test func rfc7515A1HS256() throws {
        let key = try VerificationKey.hmac(secret: try #require(Base64URL.decode(RFC7515.a1Key)), algorithm: .hs256, kid: nil)
        try expectKnownAnswer(RFC7515.a1Token, key)
    }

    @Test func rfc7515A2RS256() throws {
        let key = try Self.jwk(#"{"kty":"RSA","kid":"a2","alg":"RS256","n":"\#(RFC7515.a2N)","e":"AQAB"}"#)
        try expectKnownAnswer(RFC7515.a2Token, key)
    }

    @Test func rfc7515A3ES256() throws {
        let key = try Self.jwk(#"{"kty":"EC","kid":"a3","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(RFC7515.a3Y)"}"#, alg: .es256)
        try expectKnownAnswer(RFC7515.a3Token, key)
    }

    @Test func rfc7515A4ES512() throws {
        let key = try Self.jwk(#"{"kty":"EC","kid":"a4","alg":"ES512","crv":"P-521","x":"\#(RFC7515.a4X)","y":"\#(RFC7515.a4Y)"}"#)
        try expectKnownAnswer(RFC7515.a4Token, key)
    }

    @Test func rfc8037A5Ed25519() throws {
        let key = try Self.jwk(#"{"kty":"OKP","kid":"ed","alg":"EdDSA","crv":"Ed25519","x":"\#(RFC8037.x)"}"#)
        try expectKnownAnswer(RFC8037.token, key)
    }

    @Test func ecdsaSignatureShapeAttacks() throws {
        let key = try Self.jwk(#"{"kty":"EC","kid":"a3","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(RFC7515.a3Y)"}"#, alg: .es256)
        let (input, sig) = try split(RFC7515.a3Token)
        let n = EllipticCurve.p256.order
        // CVE-2022-21449: all-zero r and s.
        #expect(!key.verify(signingInput: input, signature: [UInt8](repeating: 0, count: 64)))
        // r = n or s = n (and r, s replaced by n with the other part kept).
        #expect(!key.verify(signingInput: input, signature: n + Array(sig[32...])))
        #expect(!key.verify(signingInput: input, signature: Array(sig[..<32]) + n))
        #expect(!key.verify(signingInput: input, signature: n + n))
        // Wrong lengths, including a left-padded 65-byte form.
        #expect(!key.verify(signingInput: input, signature: [0] + sig))
        #expect(!key.verify(signingInput: input, signature: Array(sig.dropFirst())))
        // DER instead of raw r||s.
        let der = try #require(ECDSASignature.der(fromRaw: sig.withUnsafeBytes { $0 }, curve: .p256))
        #expect(!key.verify(signingInput: input, signature: der))
    }

    @Test func rsaHmacConfusion() throws {
        // The attacker signs HS256 with the server's public key PEM as the
        // secret; an RS256-bound key never treats the signature as a MAC.
        let pem = try Fixture.bytes("rsa2048.pub.pem")
        let rsKey = try VerificationKey.publicKey(pem: pem, algorithm: .rs256, kid: "rs")
        let forger = try SigningKey.hmac(secret: pem, algorithm: .hs256, kid: "rs")
        let input = Array("eyJhbGciOiJIUzI1NiJ9.e30".utf8)
        let mac = try forger.sign(input)
        #expect(!rsKey.verify(signingInput: input, signature: mac))
    }

    @Test func refusesMaterialThatDoesNotFit() throws {
        let rsaPub = try Fixture.bytes("rsa2048.pub.pem")
        let ecPub = try Fixture.bytes("ecp256.pub.pem")
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "ES256", key: "RSA 2048-bit")) {
            try VerificationKey.publicKey(pem: rsaPub, algorithm: .es256, kid: nil)
        }
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "ES384", key: "EC P-256")) {
            try VerificationKey.publicKey(pem: ecPub, algorithm: .es384, kid: nil)
        }
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "RS256", key: "EC P-256")) {
            try VerificationKey.publicKey(pem: ecPub, algorithm: .rs256, kid: nil)
        }
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "HS256", key: "RSA 2048-bit")) {
            try VerificationKey.publicKey(pem: rsaPub, algorithm: .hs256, kid: nil)
        }
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "EdDSA", key: "EC P-256")) {
            try VerificationKey.publicKey(pem: ecPub, algorithm: .edDSA, kid: nil)
        }
        #expect(throws: KeyError.keyDoesNotFitAlgorithm(algorithm: "ES256", key: "Ed25519")) {
            try VerificationKey.publicKey(pem: try Fixture.bytes("ed25519.pub.pem"), algorithm: .es256, kid: nil)
        }
        #expect(throws: KeyError.self) {
            try VerificationKey.publicKey(pem: try Fixture.bytes("secp256k1.pub.pem"), algorithm: .es256, kid: nil)
        }
        #expect(throws: KeyError.rsaKeyTooSmall(bits: 1024)) {
            try VerificationKey.publicKey(pem: try Fixture.bytes("rsa1024.pub.pem"), algorithm: .rs256, kid: nil)
        }
        #expect(throws: KeyError.rsaKeyTooSmall(bits: 1024)) {
            try VerificationKey.publicKey(pem: try Fixture.bytes("rsa1024.pub.pem"), algorithm: .ps256, kid: nil)
        }
        #expect(throws: KeyError.hmacSecretTooShort(bytes: 31, minimum: 32)) {
            try VerificationKey.hmac(secret: [UInt8](repeating: 1, count: 31), algorithm: .hs256, kid: nil)
        }
        #expect(throws: KeyError.hmacSecretTooShort(bytes: 32, minimum: 64)) {
            try VerificationKey.hmac(secret: [UInt8](repeating: 1, count: 32), algorithm: .hs512, kid: nil)
        }
        #expect(throws: KeyError.self) {
            try VerificationKey.publicKey(pem: Array("not a pem".utf8), algorithm: .rs256, kid: nil)
        }
        // A private key file given as a public key is refused.
        #expect(throws: KeyError.self) {
            try VerificationKey.publicKey(pem: try Fixture.bytes("ecp256.key.pem"), algorithm: .es256, kid: nil)
        }
    }

    @Test func ecPointNotOnCurveIsRefused() throws {
        var y = try #require(Base64URL.decode(RFC7515.a3Y))
        y[31] ^= 1
        #expect(throws: KeyError.self) {
            try Self.jwk(#"{"kty":"EC","kid":"bad","alg":"ES256","crv":"P-256","x":"\#(RFC7515.a3X)","y":"\#(b64(y))"}"#)
        }
    }
}
