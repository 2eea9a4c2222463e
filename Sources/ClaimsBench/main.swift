// Cost of one HS256 verification on the request path (JWTVerifier with a
// worker's VerifiedTokenCache): a miss decodes, checks the MAC and reads the
// claims; a hit only finds the cached result and checks scopes. Also the
// one-shot path (no cache, no workspace) and the forward_claims lookup.
//
//   swift run -c release --scratch-path .build-bench ClaimsBench [mode] [count] [idp]
//
// mode: all (default: prints ns per verification), miss, hit, oneshot, none
// (tokens only, for allocation counts by difference). Under valgrind the
// measured loop is the function `claims_bench_loop`:
//   valgrind --tool=callgrind --toggle-collect=claims_bench_loop ClaimsBench miss 2000
import Foundation
import GatewayAuth

let now: Int64 = 1_800_000_000
let secret = [UInt8](repeating: 0x5A, count: 32)
let key = try SigningKey.hmac(secret: secret, algorithm: .hs256, kid: "hs256")
/// What the gateway forwards in the benchmark config (examples/gateway.conf style).
let forwarded = ["sub", "email", "roles"]
let verifier = JWTVerifier(keys: try KeySet(keys: [key.verificationKey]), issuers: ["https://issuer.bench"],
                           audiences: ["api"], leewaySeconds: 30, forwardClaims: forwarded)
let signer = TokenSigner(key: key)

/// A typical access token: the bench_jwt.py claims plus scope, email, roles;
/// with `idp`, also what an identity provider adds that the gateway neither
/// checks nor forwards (Keycloak-style).
func token(_ i: Int, idp: Bool) throws -> [UInt8] {
    var claims = JSONObject()
    if idp {
        claims["typ"] = .string("Bearer")
        claims["azp"] = .string("web-frontend")
        claims["session_state"] = .string(String(format: "%08x-1111-2222-3333-%012x", i, i))
        claims["acr"] = .string("1")
        claims["allowed-origins"] = .array([.string("https://app.example.com"), .string("https://admin.example.com")])
        claims["realm_access"] = .object(JSONObject(["roles": .array([.string("offline_access"), .string("uma_authorization"),
                                                                      .string("default-roles-bench")])]))
        claims["resource_access"] = .object(JSONObject(["account": .object(JSONObject(["roles": .array([
            .string("manage-account"), .string("manage-account-links"), .string("view-profile")])]))]))
        claims["email_verified"] = .bool(true)
        claims["name"] = .string("User Number \(i)")
        claims["preferred_username"] = .string("user\(i)")
        claims["given_name"] = .string("User")
        claims["family_name"] = .string("Number \(i)")
    }
    claims["iss"] = .string("https://issuer.bench")
    claims["sub"] = .string("user-\(100_000 + i)")
    claims["aud"] = .string("api")
    claims["iat"] = .int(now - 60)
    claims["exp"] = .int(now + 3600)
    claims["jti"] = .string(String(format: "%08x-7b2c-4d1e-9f3a-%012x", i, i &* 7919))
    claims["scope"] = .string("read write")
    claims["email"] = .string("user\(i)@example.com")
    claims["roles"] = .array([.string("reader"), .string("editor")])
    return try signer.sign(claims: claims)
}

/// The measured loop; its symbol name is fixed so callgrind can collect
/// only inside it. Returns the number of successful verifications.
@inline(never) @_silgen_name("claims_bench_loop")
func claimsBenchLoop(_ mode: String, _ tokens: [[UInt8]], _ cache: VerifiedTokenCache) -> Int {
    var ok = 0
    for t in tokens {
        let result: Result<VerifiedToken, AuthFailure>
        switch mode {
        case "oneshot": result = verifier.verify(t, scopes: ["read"], now: now)
        default: result = verifier.verify(t, scopes: ["read"], now: now, cache: cache)
        }
        if case .success(let v) = result {
            // What AuthPhase.claimHeaders reads per request.
            for name in forwarded where v.claim(name) != nil { ok += 1 }
        }
    }
    return ok
}

let args = CommandLine.arguments
let mode = args.count > 1 ? args[1] : "all"
let count = args.count > 2 ? Int(args[2]) ?? 2000 : 2000
/// Third argument `idp`: the larger identity-provider token.
let idp = args.count > 3 && args[3] == "idp"
let distinct = try (0..<count).map { try token($0, idp: idp) }

func run(_ mode: String) -> (ns: Double, ok: Int) {
    let cache = VerifiedTokenCache(capacity: 2 * count)
    var input = distinct
    if mode == "hit" {
        _ = claimsBenchLoop("miss", [distinct[0]], cache)
        input = Array(repeating: distinct[0], count: count)
    }
    let clock = ContinuousClock()
    var ok = 0
    let elapsed = clock.measure { ok = claimsBenchLoop(mode, input, cache) }
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) * 1e-9
    return (ns / Double(count), ok)
}

switch mode {
case "none":
    print("\(distinct.count) tokens made, none verified")
case "all":
    for m in ["miss", "hit", "oneshot"] {
        _ = run(m)  // warm up
        let (ns, ok) = run(m)
        print(m.padding(toLength: 8, withPad: " ", startingAt: 0)
              + String(format: " %8.0f ns per verification (%d forwarded claims found)", ns, ok))
    }
default:
    let (ns, ok) = run(mode)
    print(mode + String(format: ": %d tokens, %.0f ns per verification, %d forwarded claims found", count, ns, ok))
}
