import GatewayAuth
import Testing

@Suite struct SessionTokenMinterTests {
    let key = try! SigningKey.hmac(secret: Array("0123456789abcdef0123456789abcdef".utf8), algorithm: .hs256, kid: "k")
    let sessionKey = [UInt8](repeating: 7, count: 32)

    func claims(_ token: String) throws -> JSONObject {
        let payload = try #require(token.split(separator: ".").dropFirst().first)
        let bytes = try #require(Base64URL.decode(String(payload)))
        return try #require(try JSONParser.parse(bytes).objectValue)
    }

    @Test func sameInputsGiveTheSameBytes() throws {
        let minter = SessionTokenMinter(signingKey: key, issuer: "iss", audience: "api", accessTTLMs: 900_000)
        let extra = Array(#"{"name":"Alice","exp":1,"sid":"forged"}"#.utf8)
        let a = try minter.accessToken(sid: "S", sub: "alice", claims: extra, startMs: 1_000_000, expiresMs: 9_000_000_000,
                                       issuedAtMs: 2_000_500, refreshToken: "rt", sessionKey: sessionKey)
        let b = try minter.accessToken(sid: "S", sub: "alice", claims: extra, startMs: 1_000_000, expiresMs: 9_000_000_000,
                                       issuedAtMs: 2_000_500, refreshToken: "rt", sessionKey: sessionKey)
        #expect(a.token == b.token)
        #expect(a.expiresIn == 900)
        let c = try claims(a.token)
        #expect(c["sub"] == .string("alice") && c["sid"] == .string("S") && c["iss"] == .string("iss"))
        #expect(c["iat"] == .int(2000) && c["exp"] == .int(2900) && c["auth_time"] == .int(1000))
        #expect(c["name"] == .string("Alice"), "the session's own claims are copied")
        let other = try minter.accessToken(sid: "S", sub: "alice", claims: extra, startMs: 1_000_000,
                                           expiresMs: 9_000_000_000, issuedAtMs: 2_000_500, refreshToken: "rt2",
                                           sessionKey: sessionKey)
        #expect(try claims(other.token)["jti"] != c["jti"], "the jti follows the refresh token")
    }

    @Test func theWorkersPreparedSignerGivesTheSameBytes() throws {
        let es = try TestKeys.signer(for: .es256)
        let minter = SessionTokenMinter(signingKey: es, issuer: "iss", audience: "api", accessTTLMs: 900_000)
        let workspace = ReissueCache(capacity: 4).workspace
        for i in 0..<3 {
            let plain = try minter.accessToken(sid: "S\(i)", sub: "a", claims: Array("{}".utf8), startMs: 0,
                                               expiresMs: 9_000_000_000, issuedAtMs: 1_000_000, refreshToken: "r",
                                               sessionKey: sessionKey)
            let prepared = try minter.accessToken(sid: "S\(i)", sub: "a", claims: Array("{}".utf8), startMs: 0,
                                                  expiresMs: 9_000_000_000, issuedAtMs: 1_000_000, refreshToken: "r",
                                                  sessionKey: sessionKey, workspace: workspace)
            #expect(plain.token == prepared.token, "grace replays on other instances depend on it")
        }
    }

    @Test func expiryIsCappedBySessionEnd() throws {
        let minter = SessionTokenMinter(signingKey: key, issuer: "iss", audience: "api", accessTTLMs: 900_000)
        let t = try minter.accessToken(sid: "S", sub: "a", claims: Array("{}".utf8), startMs: 0, expiresMs: 100_000,
                                       issuedAtMs: 50_000, refreshToken: "r", sessionKey: sessionKey)
        #expect(t.expiresIn == 50)
        #expect(try claims(t.token)["exp"] == .int(100))
    }

    @Test func sessionHeaderNeedsAnObjectWithSub() {
        func parse(_ s: String) -> Result<(sub: String, claims: JSONObject), SessionClaimsError> {
            Array(s.utf8).withUnsafeBytes { SessionTokenMinter.parseSessionClaims($0) }
        }
        guard case .success(let ok) = parse(#"{"sub":"bob","role":"admin","iat":5,"rfc":9}"#) else {
            Issue.record("expected success"); return
        }
        #expect(ok.sub == "bob")
        #expect(ok.claims.keys == ["role"], "sub and reserved claims are not session claims")
        guard case .failure(.missingSubject) = parse(#"{"name":"x"}"#) else { Issue.record("no sub"); return }
        guard case .failure(.missingSubject) = parse(#"{"sub":""}"#) else { Issue.record("empty sub"); return }
        guard case .failure(.notAnObject) = parse("[1]") else { Issue.record("array"); return }
        guard case .failure(.malformed) = parse(#"{"sub":"a","sub":"b"}"#) else { Issue.record("dup"); return }
        guard case .failure(.tooLarge) = parse("{\"sub\":\"" + String(repeating: "a", count: 5000) + "\"}") else {
            Issue.record("large"); return
        }
    }
}
