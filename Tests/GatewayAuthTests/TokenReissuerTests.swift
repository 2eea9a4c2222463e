import GatewayCore
import Testing
@testable import GatewayAuth

@Suite struct TokenReissuerTests {
    /// 20 s into the quantum that starts at 1_699_999_980.
    static let now: Int64 = 1_700_000_000
    static let quantum: Int64 = 1_699_999_980
    static let config = RefreshPolicyTests.config

    /// The identity provider's key, which signed the old tokens.
    static let issuerSecret = [UInt8](repeating: 0x33, count: 32)

    struct Setup {
        let issuer: SigningKey
        let key: SigningKey
        let reissuer: TokenReissuer
        let verifier: JWTVerifier

        init(key: SigningKey) throws {
            issuer = try SigningKey.hmac(secret: TokenReissuerTests.issuerSecret, algorithm: .hs256, kid: "idp")
            self.key = key
            reissuer = try TokenReissuer(signingKey: key, config: TokenReissuerTests.config)
            verifier = JWTVerifier(keys: try KeySet(keys: [issuer.verificationKey, key.verificationKey]),
                                   issuers: [], audiences: [], leewaySeconds: 0)
        }

        init() throws { try self.init(key: try TestKeys.signer(for: .hs256, kid: "gw")) }

        /// An old token with exactly `claims` (JSON text), and its verification at `now`.
        func old(_ claims: String, now: Int64 = TokenReissuerTests.now) throws -> ([UInt8], VerifiedToken) {
            let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"idp"}"#, claims: claims, key: issuer).utf8)
            return (token, try verifier.verify(token, scopes: [], now: now).get())
        }

        func reissue(_ claims: String, updates: JSONObject? = nil, now: Int64 = TokenReissuerTests.now) throws -> [UInt8] {
            let (token, verified) = try old(claims, now: now)
            return try reissuer.reissue(old: token, verified: verified, updates: updates, now: now)
        }

        /// Verifies a new token with the gateway's own verifier and returns its claims.
        func check(_ token: [UInt8], now: Int64 = TokenReissuerTests.now) throws -> VerifiedToken {
            try verifier.verify(token, scopes: [], now: now).get()
        }
    }

    static func expectedJTI(_ key: SigningKey, _ message: [UInt8]) throws -> String {
        let mac = try HMACKey.mac(key: try key.deriveSecret(label: "gateway refresh jti"), digest: .sha256, data: message)
        return Base64URL.encodeToString(mac.prefix(16))
    }

    @Test func claimsKeptInOrderWithTimesAndCountReplacedInPlace() throws {
        let s = try Setup()
        let claims = #"{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"iat":1699999200,"#
            + #""auth_time":1699996400,"jti":"abc","scope":"read","rfc":3,"custom":{"a":[1,2.5]}}"#
        let new = try s.check(try s.reissue(claims))
        #expect(new.claims.keys == ["iss", "sub", "aud", "exp", "iat", "auth_time", "jti", "scope", "rfc", "custom"])
        #expect(new.claims["iss"] == .string("https://idp"))
        #expect(new.claims["aud"] == .string("api"))
        #expect(new.iat == Self.quantum)
        #expect(new.exp == Self.quantum + 900)
        #expect(new.authTime == 1_699_996_400)
        #expect(new.rfc == 4)
        #expect(new.jti == (try Self.expectedJTI(s.key, Array("abc".utf8))))
        #expect(new.jti?.utf8.count == 22)
        #expect(new.claims["custom"] == .object(JSONObject(["a": .array([.int(1), .double(2.5)])])))
        #expect(new.kid == "gw")
    }

    @Test func headerIsTheSigningKeys() throws {
        let s = try Setup(key: try TestKeys.signer(for: .es256, kid: "gw-es"))
        let decoded = try JWSToken.decode(try s.reissue(#"{"sub":"a","exp":1700000100}"#))
        #expect(decoded.header.keys == ["alg", "kid", "typ"])
        #expect(decoded.algorithm == .es256)
        #expect(decoded.kid == "gw-es")
        #expect(decoded.header["typ"] == .string("JWT"))
    }

    @Test func missingClaimsAreAppended() throws {
        let s = try Setup()
        let new = try s.check(try s.reissue(#"{"sub":"alice","exp":1700000100,"iat":1699999200}"#))
        #expect(new.claims.keys == ["sub", "exp", "iat", "auth_time", "rfc", "jti"])
        // auth_time from the old iat.
        #expect(new.authTime == 1_699_999_200)
        #expect(new.iat == Self.quantum)
        #expect(new.rfc == 1)
    }

    @Test func neitherAuthTimeNorIatUsesTheQuantum() throws {
        let s = try Setup()
        let new = try s.check(try s.reissue(#"{"sub":"alice","exp":1700000100}"#))
        #expect(new.claims.keys == ["sub", "exp", "auth_time", "iat", "rfc", "jti"])
        #expect(new.authTime == Self.quantum)
        #expect(new.iat == Self.quantum)
        #expect(new.exp == Self.quantum + 900)
    }

    @Test func iatNeverMovesBeforeTheOldIat() throws {
        let s = try Setup()
        let new = try s.check(try s.reissue(#"{"sub":"alice","exp":1700000100,"iat":1699999995}"#))
        #expect(new.iat == 1_699_999_995)
        #expect(new.exp == 1_699_999_995 + 900)
    }

    @Test func expCappedBySessionEnd() throws {
        let s = try Setup()
        let authTime = Self.now - 72 * 3600 + 100
        let new = try s.check(try s.reissue(#"{"sub":"a","exp":1700000050,"auth_time":\#(authTime)}"#))
        #expect(new.exp == Self.now + 100)
        #expect(new.authTime == authTime)
    }

    @Test func refreshCountFrom49To50() throws {
        let s = try Setup()
        let new = try s.check(try s.reissue(#"{"sub":"a","exp":1700000100,"rfc":49}"#))
        #expect(new.rfc == 50)
        #expect(RefreshPolicy.decide(token: new, config: Self.config, canSign: true, now: new.exp - 10) == .cappedCount)
    }

    @Test func jtiWithoutOldJTIIsDerivedFromTheWholeToken() throws {
        let s = try Setup()
        let (token, verified) = try s.old(#"{"sub":"a","exp":1700000100}"#)
        let new = try s.check(try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now))
        #expect(new.jti == (try Self.expectedJTI(s.key, token)))
        let other = try s.check(try s.reissue(#"{"sub":"b","exp":1700000100}"#))
        #expect(other.jti != new.jti)
        // A different signing key derives a different jti from the same old jti.
        let s2 = try Setup(key: try SigningKey.generate(.hs256, kid: "gw"))
        let a = try s.check(try s.reissue(#"{"sub":"a","exp":1700000100,"jti":"j"}"#))
        let b = try s2.check(try s2.reissue(#"{"sub":"a","exp":1700000100,"jti":"j"}"#))
        #expect(a.jti != b.jti)
    }

    @Test func updatesMergedReservedIgnoredNullRemoves() throws {
        let s = try Setup()
        let claims = #"{"iss":"idp","sub":"alice","aud":"api","exp":1700000100,"nbf":1699999000,"iat":1699999200,"#
            + #""jti":"j1","sid":"s1","scope":"read","custom":true}"#
        let updates = try TokenReissuer.parseClaimUpdates(Array((
            #"{"phone_number":"+33 6","scope":"read write","custom":null,"iss":"evil","sub":"mallory","aud":"x","#
            + #""exp":1,"nbf":1,"iat":1,"jti":"x","auth_time":1,"rfc":0,"sid":"x"}"#).utf8)).get()
        let (token, verified) = try s.old(claims)
        let plain = try s.check(try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now))
        let new = try s.check(try s.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now))
        #expect(new.claims.keys == ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "scope", "auth_time", "rfc",
                                    "phone_number"])
        #expect(new.claims["iss"] == .string("idp"))
        #expect(new.sub == "alice")
        #expect(new.claims["aud"] == .string("api"))
        #expect(new.claims["nbf"] == .int(1_699_999_000))
        #expect(new.sid == "s1")
        #expect(new.exp == plain.exp)
        #expect(new.iat == plain.iat)
        #expect(new.authTime == 1_699_999_200)
        #expect(new.rfc == 1)
        #expect(new.jti == plain.jti)
        #expect(new.claims["scope"] == .string("read write"))
        #expect(new.claims["phone_number"] == .string("+33 6"))
        #expect(new.claims["custom"] == nil)
    }

    @Test func tooLargeResultIsRefused() throws {
        let s = try Setup()
        let (token, verified) = try s.old(#"{"sub":"a","exp":1700000100}"#)
        let big = JSONObject(["blob": .string(String(repeating: "x", count: 7000))])
        #expect {
            try s.reissuer.reissue(old: token, verified: verified, updates: big, now: Self.now)
        } throws: { error in
            guard case .tokenTooLarge(let n) = error as? ReissueError else { return false }
            return n > JWSToken.maxLength
        }
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func everyAlgorithmVerifiesAndIsDeterministic(alg: JWSAlgorithm) throws {
        let s = try Setup(key: try SigningKey.generate(alg, kid: "gw"))
        let claims = #"{"sub":"alice","exp":1700000100,"iat":1699999200,"jti":"abc"}"#
        let one = try s.reissue(claims)
        let new = try s.check(one)
        #expect(new.algorithm == alg)
        #expect(new.kid == "gw")
        #expect(new.rfc == 1)
        #expect(try s.reissue(claims) == one)
        // Later in the same quantum: the same bytes.
        #expect(try s.reissue(claims, now: Self.now + 9) == one)
        // Next quantum: a new iat, so a new token.
        let next = try s.reissue(claims, now: Self.now + 10)
        #expect(next != one)
        #expect(try s.check(next, now: Self.now + 10).iat == Self.quantum + 30)
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func twoInstancesWithOneKeyAgreeByteForByte(alg: JWSAlgorithm) throws {
        // Two SigningKeys loaded separately from the same PEM / secret model two gateway processes.
        let a = try Setup(key: try TestKeys.signer(for: alg, kid: "gw"))
        let b = try Setup(key: try TestKeys.signer(for: alg, kid: "gw"))
        let claims = #"{"sub":"alice","exp":1700000100,"iat":1699999200}"#
        let (token, verified) = try a.old(claims)
        let updates = JSONObject(["role": .string("admin")])
        let fromA = try a.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now)
        let fromB = try b.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now - 20)
        #expect(fromA == fromB)
        #expect(try b.check(fromA).claims["role"] == .string("admin"))
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func workerPathGivesTheBytesOfTheSharedPath(alg: JWSAlgorithm) throws {
        let s = try Setup(key: try TestKeys.signer(for: alg, kid: "gw"))
        let cache = ReissueCache(capacity: 64)
        for i in 0..<4 {
            let claims = i % 2 == 0 ? #"{"sub":"u\#(i)","exp":1700000100,"iat":1699999200,"jti":"j\#(i)"}"#
                : #"{"sub":"u\#(i)","exp":1700000100,"iat":1699999200}"#
            let (token, verified) = try s.old(claims)
            let viaCache = try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now, cache: cache)
            #expect(viaCache == (try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now)))
        }
    }

    @Test func cacheAnswersRepeatsWithTheSameBytes() throws {
        let s = try Setup()
        let cache = ReissueCache(capacity: 8)
        let (token, verified) = try s.old(#"{"sub":"a","exp":1700000100}"#)
        let first = try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now, cache: cache)
        #expect(cache.count == 1)
        #expect(cache.lookup(oldToken: token, updateKey: nil, now: Self.now + 5) == first)
        let second = try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now + 5, cache: cache)
        #expect(second == first)
        let updates = JSONObject(["x": .int(1)])
        let updated = try s.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now, cache: cache)
        #expect(updated != first)
        #expect(cache.count == 2)
        #expect(updated == (try s.reissuer.reissue(old: token, verified: verified, updates: updates, now: Self.now)))
        // Next quantum: recomputed, same as without the cache.
        let next = try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now + 10, cache: cache)
        #expect(next == (try s.reissuer.reissue(old: token, verified: verified, updates: nil, now: Self.now + 10)))
        #expect(next != first)
    }

    // MARK: parseClaimUpdates

    func parse(_ text: String) -> Result<JSONObject, ClaimUpdateError> {
        TokenReissuer.parseClaimUpdates(Array(text.utf8))
    }

    @Test func parsesAnObject() throws {
        let object = try parse(#"  {"phone_number":"+1","roles":["a"],"n":{"x":null}} "#).get()
        #expect(object.keys == ["phone_number", "roles", "n"])
        let slice = Array(#"xx{"a":1}"#.utf8)[2...]
        #expect(try TokenReissuer.parseClaimUpdates(slice).get() == JSONObject(["a": .int(1)]))
        #expect(try parse("{}").get().isEmpty)
    }

    @Test func refusesNonObjectsAndBadJSON() {
        #expect(parse("[1]") == .failure(.notAnObject))
        #expect(parse(#""s""#) == .failure(.notAnObject))
        #expect(parse("null") == .failure(.notAnObject))
        guard case .failure(.malformed(let e)) = parse(#"{"a":1,"a":2}"#) else { Issue.record("duplicate accepted"); return }
        #expect(e.kind == .duplicateKey)
        guard case .failure(.malformed) = parse("{bad") else { Issue.record("bad JSON accepted"); return }
        guard case .failure(.malformed) = parse("") else { Issue.record("empty accepted"); return }
        guard case .failure(.malformed(let t)) = parse(#"{"a":1} x"#) else { Issue.record("trailing accepted"); return }
        #expect(t.kind == .trailingData)
        let deep = String(repeating: #"{"a":"#, count: 17) + "1" + String(repeating: "}", count: 17)
        guard case .failure(.malformed(let d)) = parse(deep) else { Issue.record("deep accepted"); return }
        #expect(d.kind == .tooDeep)
    }

    @Test func sizeLimit() {
        let filler = String(repeating: "x", count: TokenReissuer.maxClaimUpdateBytes - 8)
        let exact = #"{"a":"\#(filler)"}"#
        #expect(exact.utf8.count == TokenReissuer.maxClaimUpdateBytes)
        #expect((try? parse(exact).get()) != nil)
        #expect(parse(#"{"a":"\#(filler)x"}"#) == .failure(.tooLarge))
    }
}
