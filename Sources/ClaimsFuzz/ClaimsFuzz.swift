// Differential fuzz target: the zero-copy claims reader (ClaimsReader) against
// the tree parser it replaced on the verification path (JSONParser).
//
// Built normally it replays files (or directories of files) given as
// arguments (`swift run ClaimsFuzz Tests/Fuzz/corpus/claims`). Built with
// `-D FUZZING -sanitize=fuzzer,address` (one combined flag) it hands
// control to libFuzzer: `scripts/fuzz.sh claims 900`.
//
// Every input is tried as a claim set and as a JWS header. Invariants (a
// violation aborts, which libFuzzer records as a crash):
//  - reader and JSONParser both accept or both refuse, with the same
//    JSONError (kind and offset);
//  - on acceptance, the reader's members are exactly the old tree's members
//    with the names asked for, in order, equal values; nil exactly when the
//    text is not an object;
//  - the verifier (HS256 token with the input as payload, signed here) accepts
//    only what the old rules accept, and a VerifiedToken exposes the old
//    tree's values: `claims`, `claim(_:)` for checked and forwarded names,
//    sub/jti/sid/exp/iat/auth_time/rfc, scopes;
//  - JWSToken.decode with the input as header accepts exactly what the old
//    header rules (JSONParser, object, string alg not "none", string kid, no
//    crit) accept, with the same failure.
import FuzzReplay
import GatewayAuth
#if canImport(Glibc)
import Glibc
#endif

func check(_ ok: Bool, _ what: String) {
    if !ok {
        print("invariant violated: \(what)")
        abort()
    }
}

/// Forwarded names as a config could give them: plain, non-ASCII, and ones
/// only canonical equivalence matches (KELVIN SIGN is "K", e + U+0301 is "é").
let forwarded = ["email", "roles", "K", "é", "\u{212A}id", "e\u{301}x", "http://example.com/is_root", ""]
let claimNames = ClaimsReader.Names(JWTVerifier.checkedClaims + forwarded)
let headerNames = ClaimsReader.Names(JWSToken.readHeaderParameters)

let secret = [UInt8](repeating: 0x42, count: 32)
let signingKey: SigningKey? = try? SigningKey.hmac(secret: secret, algorithm: .hs256, kid: "fuzz")
let verifier: JWTVerifier? = signingKey.flatMap { key in
    (try? KeySet(keys: [key.verificationKey])).map {
        JWTVerifier(keys: $0, issuers: [], audiences: [], leewaySeconds: 30, forwardClaims: forwarded)
    }
}
let now: Int64 = 1_800_000_000

func parseOld(_ data: UnsafeRawBufferPointer) -> Result<JSONValue, JSONError> {
    do throws(JSONError) { return .success(try JSONParser.parse(data, limits: .token)) } catch { return .failure(error) }
}

/// The reader against JSONParser on `data` for `names`.
func compareReader(_ data: UnsafeRawBufferPointer, names: ClaimsReader.Names, old: Result<JSONValue, JSONError>) {
    let new: Result<JSONObject?, JSONError>
    do throws(JSONError) { new = .success(try ClaimsReader.read(data, names: names)) } catch { new = .failure(error) }
    switch (old, new) {
    case (.failure(let a), .failure(let b)):
        check(a == b, "same error: old \(a), reader \(b)")
    case (.success(let value), .success(let read)):
        guard case .object(let tree) = value else { check(read == nil, "non-object read as object"); return }
        guard let read else { check(false, "object read as non-object"); return }
        let expected = tree.members.filter { m in names.names.contains { $0 == m.key } }
        check(read.members == expected, "selected members equal the tree's")
    case (.failure(let a), .success):
        check(false, "reader accepts what JSONParser refuses (\(a))")
    case (.success, .failure(let b)):
        check(false, "reader refuses what JSONParser accepts (\(b))")
    }
}

func compact(_ header: [UInt8], _ payload: UnsafeRawBufferPointer) -> [UInt8] {
    var token = Base64URL.encode(header)
    token.append(UInt8(ascii: "."))
    Base64URL.encode(payload, appendingTo: &token)
    return token
}

/// Verifies a signed token carrying `data` as claims; the old rules decide.
func compareVerifier(_ data: UnsafeRawBufferPointer, old: Result<JSONValue, JSONError>) {
    guard let verifier, let signingKey, data.count <= 4096 else { return }
    var token = compact(Array(#"{"alg":"HS256","kid":"fuzz"}"#.utf8), data)
    guard let mac = try? signingKey.sign(token) else { return }
    token.append(UInt8(ascii: "."))
    token.append(contentsOf: Base64URL.encode(mac))
    // A cache per input: one kept across inputs holds HMAC contexts in
    // enum payloads, which LeakSanitizer cannot see into (a false leak).
    let cache = VerifiedTokenCache(capacity: 4)
    for result in [verifier.verify(token, scopes: [], now: now), verifier.verify(token, scopes: [], now: now, cache: cache)] {
        switch (old, result) {
        case (.failure, .success):
            check(false, "verifier accepts claims JSONParser refuses")
        case (.failure(let e), .failure(let f)):
            let expected: String = e.kind == .duplicateKey ? "duplicate claim"
                : e.kind == .tooDeep ? "claims nested too deep" : "claims are not valid JSON"
            check(f == .malformed(expected), "JSON failure reported as \(expected), got \(f)")
        case (.success(let value), .success(let v)):
            guard case .object(let tree) = value else { check(false, "non-object claims accepted"); return }
            check(v.claims == tree, "claims equal the tree")
            for name in JWTVerifier.checkedClaims + forwarded + ["absent", "nbf"] {
                check(v.claim(name) == tree[name], "claim(\(name)) equals the tree's")
            }
            check(v.sub == tree["sub"]?.stringValue && v.jti == tree["jti"]?.stringValue
                  && v.sid == tree["sid"]?.stringValue, "string claims")
            if case .int(let rfc)? = tree["rfc"] { check(v.rfc == rfc, "rfc") } else { check(v.rfc == nil, "no rfc") }
            if case .int(let exp)? = tree["exp"] { check(v.exp == exp, "exp") }
            if case .int(let iat)? = tree["iat"] { check(v.iat == iat, "iat") }
            if case .int(let at)? = tree["auth_time"] { check(v.authTime == at, "auth_time") }
            for scope in ["read", "write", "a b", ""] {
                let old = JWTVerifier.checkScopes(VerifiedToken(claims: tree, sub: nil, exp: 0, iat: nil, authTime: nil,
                                                                rfc: nil, jti: nil, sid: nil, kid: nil,
                                                                algorithm: .hs256, expiredWithinLeeway: false),
                                                  required: [scope])
                check(JWTVerifier.checkScopes(v, required: [scope]) == old, "scope \(scope)")
            }
        case (.success(let value), .failure(let f)):
            // Claim rules, not JSON, refused it: the tree must be a JSON value.
            if case .malformed(let why) = f {
                check(!why.hasPrefix("claims are not valid") && why != "duplicate claim" && why != "claims nested too deep",
                      "valid JSON refused as JSON: \(why) for \(value)")
            }
        }
    }
}

/// The old header rules, on the JSONParser tree.
func oldHeaderRules(_ old: Result<JSONValue, JSONError>) -> AuthFailure? {
    guard case .success(let value) = old else { return .malformed("header is not valid JSON") }
    guard case .object(let header) = value else { return .malformed("header is not an object") }
    guard case .string(let alg)? = header["alg"] else { return .malformed("header has no string alg") }
    guard alg.lowercased() != "none" else { return .malformed("alg none") }
    if let kid = header["kid"], kid.stringValue == nil { return .malformed("kid is not a string") }
    if let crit = header["crit"] {
        guard case .array(let names) = crit, !names.isEmpty, names.allSatisfy({ $0.stringValue != nil }) else {
            return .malformed("crit is not a non-empty array of strings")
        }
        return .malformed("unsupported critical header parameter")
    }
    return nil
}

func compareHeader(_ data: UnsafeRawBufferPointer, old: Result<JSONValue, JSONError>) {
    guard data.count <= 4096 else { return }
    var token = Base64URL.encode(data)
    token.append(contentsOf: Array(".e30.".utf8))
    let expected = oldHeaderRules(old)
    do throws(AuthFailure) {
        let decoded = try JWSToken.decode(token)
        check(expected == nil, "header accepted, old rules say \(String(describing: expected))")
        guard case .success(.object(let tree)) = old else { return }
        check(decoded.header == tree, "header tree")
        check(decoded.algorithmName == tree["alg"]?.stringValue && decoded.kid == tree["kid"]?.stringValue, "alg, kid")
    } catch {
        check(expected == error, "header refused as \(error), old rules say \(String(describing: expected))")
    }
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let old = parseOld(data)
    compareReader(data, names: claimNames, old: old)
    compareReader(data, names: headerNames, old: old)
    compareVerifier(data, old: old)
    compareHeader(data, old: old)
}

@main
struct ClaimsFuzzDriver {
    static func main() { FuzzReplay.main { fuzzOne($0) } }
}
