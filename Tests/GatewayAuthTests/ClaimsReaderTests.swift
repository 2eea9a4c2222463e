import Testing
@testable import GatewayAuth

/// ClaimsReader must refuse exactly what JSONParser refuses (same error) and
/// give, for the names asked for, exactly the tree's values.
@Suite struct ClaimsReaderTests {
    static let names = ClaimsReader.Names(JWTVerifier.checkedClaims + ["email", "roles", "custom"])

    func read(_ text: [UInt8], _ names: ClaimsReader.Names = names) -> Result<JSONObject?, JSONError> {
        text.withUnsafeBytes { raw in
            do throws(JSONError) { return .success(try ClaimsReader.read(raw, names: names)) } catch { return .failure(error) }
        }
    }

    func tree(_ text: [UInt8]) -> Result<JSONValue, JSONError> {
        do throws(JSONError) { return .success(try JSONParser.parse(text)) } catch { return .failure(error) }
    }

    static let representative: [String] = [
        #"{"iss":"https://issuer.bench","sub":"user-100001","aud":"api","iat":1799999940,"exp":1800003600,"jti":"00000001-7b2c-4d1e-9f3a-000000001eef","scope":"read write","email":"user1@example.com","roles":["reader","editor"]}"#,
        RFC7515.claims,
        #"{"iss":"idp","sub":"alice","aud":["api","x"],"exp":1800000100,"nbf":1699999000,"iat":1799999000,"jti":"j1","sid":"s1","scope":"read write","auth_time":1700000000,"rfc":3,"custom":{"a":[1,2.5,-0,1e-400,null,true]}}"#,
        " {\"exp\" : 1.8e9 ,\n\"scp\":[\"read\",\"write\"], \"sub\":\"h\\u00e9llo \\ud83d\\ude00 \u{4e16}\", \"roles\":{}} ",
        #"{"exp":9223372036854775807,"iat":-9223372036854775808,"rfc":7,"x":[[[]]],"y":9223372036854775808}"#,
        "{" + (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","email":"e","exp":1800000100}"#,
    ]

    static let arrays: [String] = [
        // Arrays the reader makes itself (flat: escape-free strings, literals,
        // exact integers) and those it leaves to JSONParser, side by side.
        #"{"roles":[ "a,b]" , "[c{" ,true,false,null,-0,0,-9223372036854775808, "\#u{4e16}\#u{1F600}" ],"aud":[],"scp":[ ]}"#,
        #"{"roles":["a\"b"],"aud":["x",1.5],"scp":[9223372036854775808],"custom":["y",["z"]],"email":["e",{}]}"#,
        #"{"roles":["\u0041"],"aud":[1e2,"api"],"scp":["read"],"custom":[-1,"",true]}"#,
    ]

    @Test(arguments: representative + arrays)
    func selectsTheTreesMembers(text: String) throws {
        let bytes = Array(text.utf8)
        let all = try #require(try JSONParser.parse(bytes).objectValue)
        let read = try #require(try read(bytes).get())
        let expected = all.members.filter { Self.names.contains($0.key) }
        #expect(!expected.isEmpty)
        #expect(read.members == expected)
    }

    /// Invalid texts, with the error JSONParser gives; the reader must give the same.
    static let refused: [(String, JSONError.Kind)] = [
        (#"{"exp":1,"exp":2}"#, .duplicateKey),
        (#"{"exp":1,"x":{"a":1,"b":[{"c":1,"c":2}]}}"#, .duplicateKey),
        (#"{"sub":"a","\u0073ub":"b"}"#, .duplicateKey),
        ("{\"K\":1,\"\u{212A}\":2}", .duplicateKey),        // KELVIN SIGN is canonically "K"
        ("{\"\u{E9}\":1,\"e\u{301}\":2}", .duplicateKey),   // NFC and NFD of é
        ("{" + (0..<40).map { #""k\#($0)":0"# }.joined(separator: ",") + #","k3":1}"#, .duplicateKey),
        (#"{"a":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}", .tooDeep),
        (#"{"sub":"\ud800"}"#, .invalidEscape),
        (#"{"sub":"\udc00"}"#, .invalidEscape),
        (#"{"sub":"\ud800\u0041"}"#, .invalidEscape),
        (#"{"sub":"\x"}"#, .invalidEscape),
        (#"{"sub":"\u12G4"}"#, .invalidEscape),
        ("{\"sub\":\"a\tb\"}", .invalidString),
        (#"{"x":1e400}"#, .invalidNumber),
        (#"{"x":-1e400}"#, .invalidNumber),
        (#"{"x":1"# + String(repeating: "0", count: 400) + "}", .invalidNumber),
        (#"{"exp":01}"#, .invalidNumber),
        (#"{"exp":1.}"#, .invalidNumber),
        (#"{"exp":-}"#, .invalidNumber),
        (#"{"exp":+1}"#, .unexpectedByte),
        (#"{"exp":tru}"#, .unexpectedByte),
        (#"{"exp":1,}"#, .unexpectedByte),
        (#"{"exp":[1,]}"#, .unexpectedByte),
        (#"{"exp":1} x"#, .trailingData),
        (#"{"exp":1"#, .unexpectedEnd),
        (#"{"sub":"abc"#, .unexpectedEnd),
        ("", .unexpectedEnd),
        (#"{"x":"# + "\"" + String(repeating: "a", count: 8200) + "\"}", .tooLarge),
    ]

    @Test(arguments: refused)
    func refusesWithJSONParsersError(text: String, kind: JSONError.Kind) {
        let bytes = Array(text.utf8)
        guard case .failure(let old) = tree(bytes) else { Issue.record("JSONParser accepts \(text)"); return }
        #expect(old.kind == kind)
        #expect(read(bytes) == .failure(old))
        #expect(read(bytes, ClaimsReader.Names([])) == .failure(old), "the same when nothing is selected")
    }

    @Test(arguments: [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x84], [0xFF], [0x80]] as [[UInt8]])
    func refusesInvalidUTF8LikeJSONParser(sequence: [UInt8]) {
        for bytes in [Array(#"{"sub":""#.utf8) + sequence + Array(#""}"#.utf8),
                      Array(#"{""#.utf8) + sequence + Array(#"":1}"#.utf8)] {
            guard case .failure(let old) = tree(bytes) else { Issue.record("JSONParser accepts \(bytes)"); continue }
            #expect(old.kind == .invalidUTF8)
            #expect(read(bytes) == .failure(old))
        }
    }

    @Test func nonObjectsAreNilAfterFullValidation() {
        for text in ["[1]", #""exp""#, "1", "null", " true "] {
            #expect(read(Array(text.utf8)) == .success(nil), "\(text)")
        }
        #expect(read(Array(#"[1,{"a":1,"a":2}]"#.utf8)) == .failure(JSONError(kind: .duplicateKey, offset: 10)))
    }

    /// Names compare as Swift Strings (canonical equivalence), as the tree's
    /// subscript does; escaped names are decoded first.
    @Test func namesMatchAsStrings() throws {
        let names = ClaimsReader.Names(["Kid", "\u{E9}t\u{E9}", "exp"])
        let text = "{\"\u{212A}id\":1,\"e\u{301}te\u{301}\":2,\"\\u0065xp\":3,\"other\":4}"
        let read = try #require(try read(Array(text.utf8), names).get())
        #expect(read.members.map(\.value) == [.int(1), .int(2), .int(3)])
        let all = try #require(try JSONParser.parse(text).objectValue)
        #expect(read["Kid"] == all["Kid"] && read["exp"] == all["exp"] && read["\u{E9}t\u{E9}"] == all["\u{E9}t\u{E9}"])
    }

    // MARK: Through the verifier

    static let forwarded = ["email", "roles", "custom", "missing"]

    func verifier(_ key: SigningKey) throws -> JWTVerifier {
        JWTVerifier(keys: try KeySet(keys: [key.verificationKey]), issuers: [], audiences: [], leewaySeconds: 30,
                    forwardClaims: Self.forwarded)
    }

    @Test(arguments: representative)
    func verifiedTokenExposesTheTreesValues(text: String) throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try verifier(key)
        let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k","typ":"JWT","x":{"y":[1]}}"#,
                                        claims: text, key: key).utf8)
        let all = try #require(try JSONParser.parse(text).objectValue)
        let expValue = try #require(all["exp"])
        let exp = try #require(JWTVerifier.numericDate(expValue))
        let now = min(exp - 1, 1_900_000_000)
        let cache = VerifiedTokenCache(capacity: 8)
        let plain = try v.verify(token, scopes: [], now: now).get()
        let cached = try v.verify(token, scopes: [], now: now, cache: cache).get()
        let hit = try v.verify(token, scopes: [], now: now, cache: cache).get()
        for verified in [plain, cached, hit] {
            #expect(verified.claims == all)
            #expect(verified.claimsJSON == Array(text.utf8))
            for name in JWTVerifier.checkedClaims + Self.forwarded + ["k7", "http://example.com/is_root"] {
                #expect(verified.claim(name) == all[name], "\(name)")
            }
            #expect(verified.sub == all["sub"]?.stringValue)
            #expect(verified.jti == all["jti"]?.stringValue && verified.sid == all["sid"]?.stringValue)
            #expect(!verified.readClaims.isEmpty)
            #expect(verified.readClaims.members.allSatisfy { (JWTVerifier.checkedClaims + Self.forwarded).contains($0.key) })
        }
        #expect(plain == cached && cached == hit)
    }

    /// forward_claims headers (AuthPhase.claimHeaders): strings as they are,
    /// null skipped, anything else the compact JSON of the tree's value.
    @Test func forwardedValuesSerializeLikeTheTree() throws {
        let text = #"{"exp":1800000100,"email":"a\"b\u00e9","roles":{"admin":[true,false,null,{"x":-0}],"n":1.5e3,"s":"\u0001"},"custom":12.50,"missing":null}"#
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k"}"#, claims: text, key: key).utf8)
        let verified = try verifier(key).verify(token, scopes: [], now: 1_800_000_000).get()
        let all = try #require(try JSONParser.parse(text).objectValue)
        func header(_ value: JSONValue?) -> [UInt8]? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?: return Array(s.utf8)
            case let other?: return JSONSerializer.serialize(other)
            }
        }
        for name in Self.forwarded {
            #expect(header(verified.claim(name)) == header(all[name]), "\(name)")
        }
        #expect(header(verified.claim("roles")) == Array(#"{"admin":[true,false,null,{"x":0}],"n":1500.0,"s":"\u0001"}"#.utf8))
        #expect(header(verified.claim("custom")) == Array("12.5".utf8))
        #expect(header(verified.claim("email")) == Array("a\"b\u{E9}".utf8))
    }

    @Test func jsonFailuresKeepTheirMessages() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try verifier(key)
        let cases: [(String, String)] = [
            (#"{"exp":1800000100,"exp":1800000100}"#, "duplicate claim"),
            (#"{"exp":1800000100,"x":{"a":1,"a":1}}"#, "duplicate claim"),
            (#"{"exp":1800000100,"a":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}", "claims nested too deep"),
            (#"{"exp":1800000100,"x":1e400}"#, "claims are not valid JSON"),
            (#"{"exp":1800000100,"x":"\ud800"}"#, "claims are not valid JSON"),
            (#"[{"exp":1800000100}]"#, "claims are not an object"),
            (#"{"exp":"1800000100"}"#, "exp is not a NumericDate"),
            (#"{"exp":1800000100,"sub":1}"#, "sub is not a string"),
            (#"{"exp":1800000100,"rfc":1.0}"#, "rfc is not a count"),
        ]
        for (claims, message) in cases {
            let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k"}"#, claims: claims, key: key).utf8)
            #expect(v.verify(token, scopes: [], now: 1_800_000_000) == .failure(.malformed(message)), "\(claims)")
        }
    }

    @Test func scopesReadFromTheReadClaims() throws {
        let key = try TestKeys.signer(for: .hs256, kid: "k")
        let v = try verifier(key)
        let token = Array(try makeToken(header: #"{"alg":"HS256","kid":"k"}"#,
                                        claims: #"{"exp":1800000100,"scope":"read  write","scp":["admin"]}"#, key: key).utf8)
        #expect(v.verify(token, scopes: ["read", "admin"], now: 1_800_000_000).map(\.sub) == .success(nil))
        #expect(v.verify(token, scopes: ["delete"], now: 1_800_000_000) == .failure(.insufficientScope(["delete"])))
    }

    /// The header is read the same way: only alg, kid, crit become values,
    /// the rest is validated; JWSToken.decode still gives the whole tree.
    @Test func headerReadLikeTheTree() throws {
        let p = b64(#"{"exp":1}"#)
        let header = #"{"alg":"HS256","kid":"k","typ":"JWT","jwk":{"kty":"oct","k":[1,2.5]}}"#
        let token = try JWSToken.decode(b64(header) + "." + p + ".")
        #expect(token.header == (try JSONParser.parse(header).objectValue))
        #expect(token.algorithmName == "HS256" && token.kid == "k")
        let refused: [(String, String)] = [
            (#"{"alg":"HS256","x":{"a":1,"a":2}}"#, "header is not valid JSON"),
            (#"{"alg":"HS256","x":1e400}"#, "header is not valid JSON"),
            (#"["alg"]"#, "header is not an object"),
            (#"{"\u0061lg":"nOnE"}"#, "alg none"),
            (#"{"alg":"HS256","kid":7}"#, "kid is not a string"),
            (#"{"alg":"HS256","crit":[]}"#, "crit is not a non-empty array of strings"),
            (#"{"alg":"HS256","crit":["x"],"x":1}"#, "unsupported critical header parameter"),
        ]
        for (h, message) in refused {
            #expect(throws: AuthFailure.malformed(message), "\(h)") { try JWSToken.decode(b64(h) + "." + p + ".") }
        }
    }
}
