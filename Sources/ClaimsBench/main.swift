// Cost of one token verification (and reissue) on the request path:
// JWTVerifier with a worker's VerifiedTokenCache, and for `refresh`
// TokenReissuer with a worker's ReissueCache, as AuthPhase and RefreshPhase
// call them. A miss decodes, checks the signature and reads the claims; a
// hit only finds the cached result and checks scopes. Also the one-shot
// path (no cache, no workspace) and the forward_claims lookup.
//
//   swift run -c release --scratch-path .build-bench ClaimsBench [mode] [count] [idp] [alg]
//
// mode: all (default: prints ns per operation), miss, hit, oneshot,
// refresh (every token near expiry and distinct: verify miss + reissue, the
// bench.sh "refresh, near expiry, distinct" row), reissue (the reissue
// alone: tokens verified before the measured loop), none (tokens only, for
// allocation counts by difference). alg: HS256 (default), RS256, ES256, or
// any other JWS name; refresh signs with the same key. Arguments may come in
// any order. Modes inverse-blinded and inverse-fermat time the ECDSA nonce
// inversion alone, on P-256's order: the blinded BN_mod_inverse the C
// signer (COpenSSL gw_ecdsa_signer_sign) uses, against constant-time
// Fermat inversion (BN_mod_exp_mont_consttime, k^(n-2) mod n), the same
// result. Modes floor-es256-verify, floor-rs256-verify and floor-es256-sign
// measure only what `openssl speed ecdsap256` / `rsa2048` measure, on the
// bench's own key (ES256 or RS256, whatever alg is given): EVP_PKEY_verify on
// a prepared context over a precomputed SHA-256 digest and DER (or PKCS#1)
// signature, or EVP_PKEY_sign with OpenSSL's random nonce, one digest per
// token; the floor under the gateway's per-token figures, in instructions.
// Under valgrind the measured loop is the function `claims_bench_loop`:
//   valgrind --tool=callgrind --toggle-collect=claims_bench_loop ClaimsBench miss 2000 ES256
import COpenSSL
import Foundation
import GatewayAuth
import GatewayCore

let now: Int64 = 1_800_000_000

let (mode, count, idp, algorithm) = {
    var mode = "all", count = 2000, idp = false, algorithm = JWSAlgorithm.hs256
    for arg in CommandLine.arguments.dropFirst() {
        if let n = Int(arg) { count = n } else if arg == "idp" { idp = true }
        else if let a = JWSAlgorithm(name: arg) { algorithm = a } else { mode = arg }
    }
    if mode.hasPrefix("floor-es256") { algorithm = .es256 }
    if mode.hasPrefix("floor-rs256") { algorithm = .rs256 }
    return (mode, count, idp, algorithm)
}()

/// The bench's EC or RSA key as OpenSSL holds it, for the floor modes; the
/// gateway's `SigningKey` is made from the same key (its PEM).
let floorKey: OpaquePointer? = {
    switch algorithm.family {
    case .ecdsa(let curve): return gw_keygen_ec(curve.rawValue)
    case .rsaPKCS1, .rsaPSS: return gw_keygen_rsa(2048)
    default: return nil
    }
}()

/// PKCS#8 PEM of an OpenSSL key.
func privatePEM(_ pkey: OpaquePointer) -> [UInt8] {
    guard let bio = BIO_new(BIO_s_mem()), PEM_write_bio_PrivateKey(bio, pkey, nil, nil, 0, nil, nil) == 1
    else { fatalError("PEM export") }
    defer { BIO_free(bio) }
    var pem = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
    guard BIO_read(bio, &pem, Int32(pem.count)) == Int32(pem.count) else { fatalError("PEM export") }
    return pem
}

let key: SigningKey = try {
    if algorithm.family == .hmac {
        return try SigningKey.hmac(secret: [UInt8](repeating: 0x5A, count: 64), algorithm: algorithm, kid: "bench")
    }
    if let floorKey { return try SigningKey.privateKey(pem: privatePEM(floorKey), algorithm: algorithm, kid: "bench") }
    return try SigningKey.generate(algorithm, kid: "bench")
}()
/// What the gateway forwards in the benchmark config (examples/gateway.conf style).
let forwarded = ["sub", "email", "roles"]
let verifier = JWTVerifier(keys: try KeySet(keys: [key.verificationKey], signingKeys: [key]),
                           issuers: ["https://issuer.bench"], audiences: ["api"], leewaySeconds: 30,
                           forwardClaims: forwarded)
let signer = TokenSigner(key: key)
/// bench.sh's refresh config: window 5m, ttl 15m.
let refreshConfig: RefreshConfig = {
    var c = RefreshConfig()
    c.enabled = true
    c.windowMs = 300_000
    c.ttlMs = 900_000
    c.signingKey = "bench"
    return c
}()
let reissuer = try TokenReissuer(signingKey: key, config: refreshConfig)
/// refresh/reissue tokens expire in 240 s (bench.sh --ttl 240): inside the window.
let ttl: Int64 = mode == "refresh" || mode == "reissue" ? 240 : 3600

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
    claims["exp"] = .int(now + ttl)
    claims["jti"] = .string(String(format: "%08x-7b2c-4d1e-9f3a-%012x", i, i &* 7919))
    claims["scope"] = .string("read write")
    claims["email"] = .string("user\(i)@example.com")
    claims["roles"] = .array([.string("reader"), .string("editor")])
    return try signer.sign(claims: claims)
}

/// The per-worker state the loop uses, made outside it.
struct Worker {
    let cache: VerifiedTokenCache
    let reissueCache: ReissueCache
    /// `reissue` mode: each token's verification, made before the loop.
    var verified: [VerifiedToken] = []
    /// `floor-*` modes: OpenSSL's prepared contexts and inputs.
    var floor: Floor? = nil
}

/// The measured loop; its symbol name is fixed so callgrind can collect
/// only inside it. Returns the number of successful operations (forwarded
/// claims found, plus tokens reissued).
@inline(never) @_silgen_name("claims_bench_loop")
func claimsBenchLoop(_ mode: String, _ tokens: [[UInt8]], _ worker: Worker) -> Int {
    benchBody(mode, tokens, worker.verified, worker)
}

/// The loop's work, also run once outside it (`warmUp`) so one-time set-up
/// (the per-process hash key, the worker's prepared contexts) is not counted.
@inline(never)
func benchBody(_ mode: String, _ tokens: [[UInt8]], _ verified: [VerifiedToken], _ worker: Worker) -> Int {
    var ok = 0
    if mode.hasPrefix("inverse") { return inversions(mode == "inverse-fermat", tokens) }
    if mode.hasPrefix("floor-"), let floor = worker.floor { return floor.run(sign: mode.hasSuffix("-sign"), tokens.count) }
    if mode == "reissue" {
        for (t, v) in zip(tokens, verified) {
            if let fresh = try? reissuer.reissue(old: t, verified: v, updates: nil, now: now, cache: worker.reissueCache) {
                ok += fresh.isEmpty ? 0 : 1
            }
        }
        return ok
    }
    for t in tokens {
        let result: Result<VerifiedToken, AuthFailure>
        switch mode {
        case "oneshot": result = verifier.verify(t, scopes: ["read"], now: now)
        default: result = verifier.verify(t, scopes: ["read"], now: now, cache: worker.cache)
        }
        guard case .success(let v) = result else { continue }
        // What AuthPhase.claimHeaders reads per request.
        for name in forwarded where v.claim(name) != nil { ok += 1 }
        // What RefreshPhase does after the upstream answered.
        if mode == "refresh", RefreshPolicy.decide(token: v, config: refreshConfig, canSign: true, now: now) == .reissue,
           let fresh = try? reissuer.reissue(old: t, verified: v, updates: nil, now: now, cache: worker.reissueCache) {
            ok += fresh.isEmpty ? 0 : 1
        }
    }
    return ok
}

/// `inverse-*` modes: k^-1 mod n for one k per token (its SHA-256), as
/// the signer computes it.
func inversions(_ fermat: Bool, _ tokens: [[UInt8]]) -> Int {
    guard let group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), let order = EC_GROUP_get0_order(group),
          let ctx = BN_CTX_new(), let k = BN_secure_new(), let kinv = BN_secure_new(), let blind = BN_secure_new(),
          let blinded = BN_secure_new(), let step = BN_secure_new(), let exponent = BN_dup(order), BN_sub_word(exponent, 2) == 1,
          let mont = BN_MONT_CTX_new(), BN_MONT_CTX_set(mont, order, ctx) == 1 else { fatalError("BN setup") }
    defer {
        BN_MONT_CTX_free(mont); BN_free(exponent); BN_clear_free(step); BN_clear_free(blinded); BN_clear_free(blind)
        BN_clear_free(kinv); BN_clear_free(k); BN_CTX_free(ctx); EC_GROUP_free(group)
    }
    var ok = 0, blindUses = 0
    var digest = [UInt8](repeating: 0, count: 32)
    for t in tokens {
        t.withUnsafeBufferPointer { _ = SHA256($0.baseAddress, $0.count, &digest) }
        _ = BN_bin2bn(digest, 32, k)
        BN_set_flags(k, BN_FLG_CONSTTIME)
        if fermat {
            if BN_mod_exp_mont_consttime(kinv, k, exponent, order, ctx, mont) == 1 { ok += 1 }
        } else {
            // gw_ecdsa_signer_invert_nonce's steps: b and c fresh every 32, b
            // times c (Montgomery) in between; k*b and the unblinding in
            // Montgomery form.
            if blindUses == 0 {
                repeat { _ = BN_priv_rand_range(blind, order) } while BN_is_zero(blind) == 1
                repeat { _ = BN_priv_rand_range(step, order) } while BN_is_zero(step) == 1
                blindUses = 32
            } else {
                _ = BN_mod_mul_montgomery(blind, blind, step, mont, ctx)
            }
            blindUses -= 1
            if BN_mod_mul_montgomery(blinded, k, blind, mont, ctx) == 1, BN_mod_inverse(kinv, blinded, order, ctx) != nil,
               BN_mod_mul_montgomery(kinv, kinv, blind, mont, ctx) == 1 { ok += 1 }
        }
    }
    return ok
}

/// `floor-*` modes: OpenSSL alone, as `openssl speed` runs it: one prepared
/// EVP_PKEY_CTX for verifying and one for signing, made before the loop, and
/// per token its signing input's SHA-256 and a signature of that digest
/// (DER for ECDSA, PKCS#1 v1.5 for RSA), also made before the loop.
final class Floor {
    let verifyContext: OpaquePointer
    let signContext: OpaquePointer
    var digests: [[UInt8]] = []
    var signatures: [[UInt8]] = []
    var scratch = [UInt8](repeating: 0, count: 1024)

    init(pkey: OpaquePointer, tokens: [[UInt8]]) {
        guard let v = EVP_PKEY_CTX_new(pkey, nil), EVP_PKEY_verify_init(v) == 1,
              EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()) == 1,
              let s = EVP_PKEY_CTX_new(pkey, nil), EVP_PKEY_sign_init(s) == 1,
              EVP_PKEY_CTX_set_signature_md(s, EVP_sha256()) == 1 else { fatalError("floor contexts") }
        verifyContext = v
        signContext = s
        for t in tokens {
            let signingInput = t[..<(t.lastIndex(of: UInt8(ascii: ".")) ?? t.endIndex)]
            var digest = [UInt8](repeating: 0, count: 32)
            _ = Array(signingInput).withUnsafeBufferPointer { SHA256($0.baseAddress, $0.count, &digest) }
            var length = scratch.count
            guard EVP_PKEY_sign(s, &scratch, &length, digest, digest.count) == 1 else { fatalError("floor sign") }
            digests.append(digest)
            signatures.append(Array(scratch[..<length]))
        }
    }

    deinit {
        EVP_PKEY_CTX_free(verifyContext)
        EVP_PKEY_CTX_free(signContext)
    }

    /// The first `n` digests verified (or signed afresh); the number that succeeded.
    func run(sign: Bool, _ n: Int) -> Int {
        var ok = 0
        for i in 0..<min(n, digests.count) {
            if sign {
                var length = scratch.count
                if EVP_PKEY_sign(signContext, &scratch, &length, digests[i], 32) == 1 { ok += 1 }
            } else if EVP_PKEY_verify(verifyContext, signatures[i], signatures[i].count, digests[i], 32) == 1 {
                ok += 1
            }
        }
        return ok
    }
}

let distinct = try (0..<count).map { try token($0, idp: idp) }
/// The floor modes' digests come from the same tokens the gateway modes verify.
let floor: Floor? = mode.hasPrefix("floor-") ? floorKey.map { Floor(pkey: $0, tokens: distinct) } : nil

func run(_ mode: String, floor: Floor? = nil) -> (ns: Double, ok: Int) {
    // Half the tokens fit: in the second half every insert evicts, as in a
    // gateway whose 4096-entry cache sees 20,000 distinct tokens.
    let capacity = max(1, count / 2)
    var worker = Worker(cache: VerifiedTokenCache(capacity: capacity), reissueCache: ReissueCache(capacity: capacity))
    var input = distinct
    worker.floor = floor
    if mode == "hit" {
        // Cached outside the measured loop.
        _ = benchBody("miss", [distinct[0]], [], worker)
        input = Array(repeating: distinct[0], count: count)
    }
    if mode == "reissue" {
        worker.verified = distinct.map { t in
            guard case .success(let v) = verifier.verify(t, scopes: [], now: now) else { fatalError("bench token refused") }
            return v
        }
    }
    // One token outside the set, through the same worker: a miss, like the loop's.
    let extra = try! token(count, idp: idp)
    let extraVerified = mode == "reissue" ? [try! verifier.verify(extra, scopes: [], now: now).get()] : []
    _ = benchBody(mode == "hit" ? "miss" : mode, [extra], extraVerified, worker)
    let clock = ContinuousClock()
    var ok = 0
    let elapsed = clock.measure { ok = claimsBenchLoop(mode, input, worker) }
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
        print(algorithm.name + " " + m.padding(toLength: 8, withPad: " ", startingAt: 0)
              + String(format: " %8.0f ns per verification (%d forwarded claims found)", ns, ok))
    }
default:
    let (ns, ok) = run(mode, floor: floor)
    print(algorithm.name + " " + mode + String(format: ": %d tokens, %.0f ns per operation, %d ok", count, ns, ok))
}
