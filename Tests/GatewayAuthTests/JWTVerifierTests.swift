import Testing
@testable import GatewayAuth

@Suite struct JWTVerifierTests {
    static let now: Int64 = 1_800_000_000

    static func verifier(_ keys: [VerificationKey], issuers: [String] = ["https://idp"],
                         audiences: [String] = ["api"], leeway: Int64 = 30) throws -> JWTVerifier {
        JWTVerifier(keys: try KeySet(keys: keys), issuers: issuers, audiences: audiences, leewaySeconds: leeway)
    }

    static func claims(_ extra: String = "", exp: Int64 = now + 600) -> String {
        #"{"iss":"https://idp","aud":"api","sub":"alice","exp":\#(exp),"iat":\#(now - 10)\#(extra)}"#
    }

    func run(_ v: JWTVerifier, _ token: String, scopes: [String] = [], now: Int64 = now) -> Result<VerifiedToken, AuthFailure> {
        v.verify(Array(token.utf8), scopes: scopes, now: now)
    }

    func failure(_ r: Result<VerifiedToken, AuthFailure>) -> AuthFailure? {
        if case .failure(let f) = r { return f }
        return nil
    }

    // MARK: Known answers through the whole pipeline

    @Test func rfc7515A1Verifies() throws {
        let key = try VerificationKey.hmac(secret: try #require(Base64URL.decode(RFC7515.a1Key)), algorithm: .hs256, kid: nil)
        let v = try Self.verifier([key], issuers: ["joe"], audiences: [])
        let token = try run(v, RFC7515.a1Token, now: RFC7515.now).get()
        #expect(token.exp == 1_300_819_380)
        #expect(token.claims["http://example.com/is_root"] == .bool(true))
        #expect(token.algorithm == .hs256)
        #expect(run(v, RFC7515.a1Token, now: 1_300_819_380 + 30) == .failure(.expired))
        // Tampered payload.
        let tampered = RFC7515.a1Token.replacingOccurrences(of: "eyJpc3MiOiJqb2Ui", with: "eyJpc3MiOiJqb2Ux")
        #expect(run(v, tampered, now: RFC7515.now) == .failure(.badSignature))
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func roundTripEveryAlgorithm(alg: JWSAlgorithm) throws {
        let key = try TestKeys.signer(for: alg, kid: "k1")
        let v = try Self.verifier([key.verificationKey])
        let token = try TokenSigner(key: key).signToString(claims: try #require(try JSONParser.parse(Self.claims()).objectValue))
        let verified = try run(v, token).get()
        #expect(verified.sub == "alice")
        #expect(verified.kid == "k1")
        #expect(verified.algorithm == alg)
        #expect(!verified.expiredWithinLeeway)
    }

    // MARK: Attacks

    @Test func signatureStrippedOrEmpty() throws {
        let key = try TestKeys.signer(for: .es256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let token = try makeToken(header: #"{"alg":"ES256","kid":"k"}"#, claims: Self.claims(), key: key)
        let stripped = String(token[..<(try #require(token.lastIndex(of: ".")))]) + "."
        #expect(run(v, stripped) == .failure(.badSignature))
        let zeros = try makeToken(header: #"{"alg":"ES256","kid":"k"}"#, claims: Self.claims(), key: nil,
                                  signature: [UInt8](repeating: 0, count: 64))
        #expect(run(v, zeros) == .failure(.badSignature))
        let n = EllipticCurve.p256.order
        let rn = try makeToken(header: #"{"alg":"ES256","kid":"k"}"#, claims: Self.claims(), key: nil, signature: n + n)
        #expect(run(v, rn) == .failure(.badSignature))
        // DER instead of raw.
        let (input, raw) = try split(token)
        let der = try #require(raw.withUnsafeBytes { ECDSASignature.der(fromRaw: $0, curve: .p256) })
        let derToken = input.text + "." + b64(der)
        #expect(run(v, derToken) == .failure(.badSignature))
    }

    @Test func algNoneIsRefused() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        for alg in ["none", "NONE", "None"] {
            let t = try makeToken(header: #"{"alg":"\#(alg)","kid":"k"}"#, claims: Self.claims(), key: nil)
            #expect(failure(run(v, t))?.isMalformed == true)
        }
    }

    @Test func rsHsConfusion() throws {
        // Server holds an RS256 public key; attacker signs HS256 with its PEM.
        let pem = try Fixture.bytes("rsa2048.pub.pem")
        let rs = try VerificationKey.publicKey(pem: pem, algorithm: .rs256, kid: "k")
        let v = try Self.verifier([rs])
        let forger = try SigningKey.hmac(secret: pem, algorithm: .hs256, kid: "k")
        let t = try makeToken(header: #"{"alg":"HS256","kid":"k"}"#, claims: Self.claims(), key: forger)
        #expect(run(v, t) == .failure(.algorithmMismatch))
        let t2 = try makeToken(header: #"{"alg":"HS256"}"#, claims: Self.claims(), key: forger)
        #expect(run(v, t2) == .failure(.algorithmMismatch))
    }

    @Test func kidLookups() throws {
        let a = try TestKeys.signer(for: .hs256, kid: "a")
        let b = try SigningKey.hmac(secret: [UInt8](repeating: 7, count: 32), algorithm: .hs256, kid: "b")
        let v = try Self.verifier([a.verificationKey, b.verificationKey])
        for kid in ["../../etc/passwd", "' OR '1'='1", "x; DROP TABLE keys", "", "A"] {
            let t = try makeToken(header: #"{"alg":"HS256","kid":"\#(kid)"}"#, claims: Self.claims(), key: a)
            #expect(run(v, t) == .failure(.unknownKeyID))
        }
        // No kid with two keys: refused, never tried in turn.
        let noKid = try makeToken(header: #"{"alg":"HS256"}"#, claims: Self.claims(), key: a)
        #expect(failure(run(v, noKid))?.isMalformed == true)
        // Signed by b but naming a.
        let wrong = try makeToken(header: #"{"alg":"HS256","kid":"a"}"#, claims: Self.claims(), key: b)
        #expect(run(v, wrong) == .failure(.badSignature))
        // No kid with exactly one key works.
        let single = try Self.verifier([a.verificationKey])
        #expect(try run(single, noKid).get().sub == "alice")
    }

    @Test func critAndKeyURLHeaders() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let crit = try makeToken(header: #"{"alg":"HS256","kid":"k","crit":["x"],"x":1}"#, claims: Self.claims(), key: key)
        #expect(failure(run(v, crit))?.isMalformed == true)
        let urls = try makeToken(header: #"{"alg":"HS256","kid":"k","jku":"http://127.0.0.1:1/","x5u":"http://127.0.0.1:1/","jwk":{"kty":"oct","k":"AAAA"}}"#,
                                 claims: Self.claims(), key: key)
        #expect(try run(v, urls).get().sub == "alice")
    }

    @Test func malformedClaims() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let h = #"{"alg":"HS256","kid":"k"}"#
        let cases = [
            #"{"iss":"https://idp","aud":"api","exp":1900000000,"exp":1}"#,             // duplicate claim
            #"{"iss":"https://idp","aud":"api","exp":"1900000000"}"#,                   // exp as string
            #"{"iss":"https://idp","aud":"api","exp":1e300}"#,                          // exp huge float
            #"{"iss":"https://idp","aud":"api"}"#,                                      // no exp
            #"{"iss":"https://idp","aud":"api","exp":1900000000,"nbf":"0"}"#,
            #"{"iss":"https://idp","aud":"api","exp":1900000000,"iat":true}"#,
            #"{"iss":["https://idp"],"aud":"api","exp":1900000000}"#,
            #"{"iss":"https://idp","aud":[1],"exp":1900000000}"#,
            #"{"iss":"https://idp","aud":"api","exp":1900000000,"sub":5}"#,
            #"{"iss":"https://idp","aud":"api","exp":1900000000,"rfc":-1}"#,
            "[1]",
            "not json",
            #"{"a":"#,
            String(repeating: #"{"a":"#, count: 20) + "1" + String(repeating: "}", count: 20),  // depth
        ]
        for claims in cases {
            let t = try makeToken(header: h, claims: claims, key: key)
            #expect(failure(run(v, t))?.isMalformed == true, "\(claims)")
        }
    }

    @Test func timeClaims() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey], leeway: 30)
        let h = #"{"alg":"HS256","kid":"k"}"#
        let now = Self.now
        func token(_ claims: String) throws -> String { try makeToken(header: h, claims: claims, key: key) }
        let base = #""iss":"https://idp","aud":"api""#
        // exp in the past beyond leeway.
        #expect(run(v, try token("{\(base),\"exp\":\(now - 31)}")) == .failure(.expired))
        #expect(run(v, try token("{\(base),\"exp\":\(now - 30)}")) == .failure(.expired))
        // Inside leeway: served, flagged.
        let inLeeway = try run(v, try token("{\(base),\"exp\":\(now - 29)}")).get()
        #expect(inLeeway.expiredWithinLeeway)
        #expect(try run(v, try token("{\(base),\"exp\":\(now)}")).get().expiredWithinLeeway)
        #expect(try !run(v, try token("{\(base),\"exp\":\(now + 1)}")).get().expiredWithinLeeway)
        // Fractional exp is floored.
        #expect(try run(v, try token("{\(base),\"exp\":\(now + 100).75}")).get().exp == now + 100)
        // nbf / iat in the future.
        #expect(run(v, try token("{\(base),\"exp\":\(now + 600),\"nbf\":\(now + 31)}")) == .failure(.notYetValid))
        #expect(try run(v, try token("{\(base),\"exp\":\(now + 600),\"nbf\":\(now + 30)}")).get().sub == nil)
        #expect(run(v, try token("{\(base),\"exp\":\(now + 600),\"iat\":\(now + 31)}")) == .failure(.notYetValid))
        // Extreme integer exp does not overflow.
        #expect(try run(v, try token("{\(base),\"exp\":9223372036854775807}")).get().exp == Int64.max)
        #expect(run(v, try token("{\(base),\"exp\":-9223372036854775808}")) == .failure(.expired))
    }

    @Test func issuerAudienceScopes() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey], issuers: ["https://idp", "https://other"], audiences: ["api", "web"])
        let h = #"{"alg":"HS256","kid":"k"}"#
        let exp = Self.now + 600
        func token(_ body: String) throws -> String { try makeToken(header: h, claims: "{\(body),\"exp\":\(exp)}", key: key) }
        #expect(run(v, try token(#""iss":"https://evil","aud":"api""#)) == .failure(.wrongIssuer))
        #expect(run(v, try token(#""aud":"api""#)) == .failure(.wrongIssuer))
        #expect(run(v, try token(#""iss":"https://other","aud":"nope""#)) == .failure(.wrongAudience))
        #expect(run(v, try token(#""iss":"https://other""#)) == .failure(.wrongAudience))
        #expect(try run(v, try token(#""iss":"https://other","aud":["x","web"]"#)).get().exp == exp)

        let scoped = try token(#""iss":"https://idp","aud":"api","scope":"read  write""#)
        #expect(try run(v, scoped, scopes: ["read", "write"]).get().exp == exp)
        #expect(run(v, scoped, scopes: ["read", "admin", "root"]) == .failure(.insufficientScope(["read", "admin", "root"])))
        let scp = try token(#""iss":"https://idp","aud":"api","scp":["read","admin"]"#)
        #expect(try run(v, scp, scopes: ["admin"]).get().exp == exp)
        #expect(run(v, scp, scopes: ["write"]) == .failure(.insufficientScope(["write"])))
        // "rea" is not "read": no substring matching.
        #expect(run(v, scoped, scopes: ["rea"]) == .failure(.insufficientScope(["rea"])))
    }

    @Test func refreshRelatedClaims() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let t = try makeToken(header: #"{"alg":"HS256","kid":"k"}"#,
                              claims: Self.claims(#","auth_time":1700000000,"rfc":3,"jti":"j1","sid":"s1""#), key: key)
        let verified = try run(v, t).get()
        #expect(verified.authTime == 1_700_000_000)
        #expect(verified.rfc == 3)
        #expect(verified.jti == "j1")
        #expect(verified.sid == "s1")
        #expect(verified.iat == Self.now - 10)
    }

    @Test func hugeTokenIsMalformedQuickly() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let huge = [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)
        #expect(failure(v.verify(huge, scopes: [], now: Self.now))?.isMalformed == true)
    }

    @Test func cacheServesRepeatsAndStillChecksScopesAndExpiry() throws {
        let key = try TestKeys.signer(for: .es256, kid: "k")
        let v = try Self.verifier([key.verificationKey])
        let cache = VerifiedTokenCache(capacity: 8)
        let t = Array(try makeToken(header: #"{"alg":"ES256","kid":"k"}"#, claims: Self.claims(#","scope":"read""#, exp: Self.now + 100), key: key).utf8)
        #expect(try v.verify(t, scopes: ["read"], now: Self.now, cache: cache).get().sub == "alice")
        #expect(cache.count == 1)
        #expect(v.verify(t, scopes: ["write"], now: Self.now, cache: cache) == .failure(.insufficientScope(["write"])))
        #expect(try v.verify(t, scopes: [], now: Self.now + 50, cache: cache).get().sub == "alice")
        // At exp the entry is gone; inside leeway it is served but not cached.
        let late = try v.verify(t, scopes: [], now: Self.now + 110, cache: cache).get()
        #expect(late.expiredWithinLeeway)
        #expect(cache.count == 0)
        #expect(v.verify(t, scopes: [], now: Self.now + 200, cache: cache) == .failure(.expired))
    }

    /// The allocation-free scope scan must answer exactly as the split
    /// it replaced, ASCII or not (Characters, canonical equivalence).
    @Test func scopeScanAgreesWithSplit() {
        let lists = ["", " ", "read", "read write", "  read   write  ", "readwrite", "read\twrite", "a b c",
                     "caf\u{E9} read", "cafe\u{301} read", "x \u{301}read", "\u{1F600} y", "read\r\nwrite"]
        let wants = ["", "read", "write", "rea", "readwrite", "a", "c", "caf\u{E9}", "cafe\u{301}", "\u{301}read",
                     "read\twrite", "\u{1F600}", "y", "read\r\nwrite"]
        for list in lists {
            for want in wants {
                let reference = list.split(separator: " ", omittingEmptySubsequences: true).contains { $0 == want }
                #expect(JWTVerifier.spaceSeparated(list, contains: want) == reference, "\(list.debugDescription) \(want.debugDescription)")
            }
        }
    }
}
