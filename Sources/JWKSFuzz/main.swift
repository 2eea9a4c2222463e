// Fuzz target for JWK set loading: `KeySet.fromJWKS` (RFC 7517 §5), the JWK
// members of every key type (RFC 7518 §6, RFC 8037 §2) and the OpenSSL key
// import under them (EVPKey+JWK).
//
// The input is a JWK set document. Built normally it replays files (or
// directories) given as arguments; built with `-D FUZZING
// -sanitize=fuzzer,address` (scripts/fuzz.sh jwks) `main` hands control to
// libFuzzer.
//
// Each input is loaded as a local file would be (no default alg, HMAC
// allowed), again the same way, and as a fetched set (HMAC refused, a
// default alg picked from the bytes). Invariants (a violation aborts):
//  - no trap; the same answer twice;
//  - a failure is "bad JWK set" when the document is not an object with a
//    "keys" array, else "no usable key"; on success every entry is either a
//    key or exactly one warning;
//  - every key has a unique, non-empty kid that some entry of the input
//    carries, and that entry fits the key's alg: its own alg or, without
//    one, the default; kty oct only for HS* and only when HMAC is allowed,
//    RSA only for RS*/PS*, EC only for the ES* of its crv, OKP Ed25519 only
//    for EdDSA; no "use" other than "sig"; the source is the one given;
//  - an HMAC key verifies what its entry's "k" signs;
//  - private members (d, p, q, dp, dq, qi) are ignored: without them the
//    answer is the same;
//  - no warning, error or key description contains a "k" value (or a
//    private member) longer than 8 characters, unless that text is also a
//    non-secret string of the input or part of the fixed message wording.
import FuzzReplay
import GatewayAuth
#if canImport(Glibc)
import Glibc
#endif

func check(_ ok: Bool, _ what: String, _ input: [UInt8]) {
    if !ok {
        print("invariant violated: \(what) for \(String(decoding: input, as: UTF8.self).debugDescription)")
        fflush(nil)
        abort()
    }
}

let source = "fuzz.jwks"
let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi"]
let secretMembers = privateMembers.union(["k"])

/// What one load produced, comparable.
struct Outcome: Equatable {
    var keys: [String] // "kid alg source"
    var warnings: [String]
    var error: KeyError?
    var loaded: [VerificationKey]

    static func == (a: Outcome, b: Outcome) -> Bool {
        a.keys == b.keys && a.warnings == b.warnings && a.error == b.error
    }

    /// Every text the load shows an operator.
    var texts: [String] { warnings + [error?.description ?? ""] + loaded.map(\.description) }
}

func load(_ bytes: [UInt8], defaultAlg: JWSAlgorithm?, allowHMAC: Bool) -> Outcome {
    do throws(KeyError) {
        let set = try KeySet.fromJWKS(data: bytes, defaultAlg: defaultAlg, allowHMAC: allowHMAC, source: source)
        return Outcome(keys: set.keys.map { "\($0.kid ?? "-") \($0.algorithm.name) \($0.source)" },
                       warnings: set.warnings, error: nil, loaded: set.keys)
    } catch {
        return Outcome(keys: [], warnings: [], error: error, loaded: [])
    }
}

/// Fixed wording of the messages (KeyError and fromJWKS's own), with the
/// variable parts empty: a secret that is part of it is not a leak.
let wording: String = {
    let errors: [KeyError] = [
        .unknownAlgorithm(""), .missingAlgorithm, .rsaKeyTooSmall(bits: 0), .hmacSecretTooShort(bytes: 0, minimum: 0),
        .keyDoesNotFitAlgorithm(algorithm: "", key: ""), .notASigningKey, .badKeyMaterial(""),
        .missingEnvironment(""), .duplicateKeyID(""), .missingKeyID, .badJWKS(""), .noUsableKeys, .hmacKeyFromURL(""),
    ]
    return (errors.map(\.description) + [
        "is not an object; skipped", "repeats kid", "refused:", "not valid JSON", "has no kty", "alg is not a string",
        "is for use", "not sig", "has an unsupported crv", "has an unsupported OKP crv", "has unsupported kty",
        "member", "is missing or not base64url", "HMAC secret", "RSA", "EC", "Ed25519", "VerificationKey(kid: ",
        ", alg: ", ", source: ", source,
    ]).joined(separator: "\n")
}()

/// Every string of the document (member names and values), split into the
/// values of secret members and everything else.
func strings(_ value: JSONValue, secret: inout [String], other: inout [String]) {
    switch value {
    case .string(let s): other.append(s)
    case .array(let items): for item in items { strings(item, secret: &secret, other: &other) }
    case .object(let object):
        for member in object {
            other.append(member.key)
            if secretMembers.contains(member.key), case .string(let s) = member.value { secret.append(s) }
            else { strings(member.value, secret: &secret, other: &other) }
        }
    default: break
    }
}

func stripPrivate(_ value: JSONValue) -> JSONValue {
    switch value {
    case .array(let items): return .array(items.map(stripPrivate))
    case .object(let object):
        var out = JSONObject()
        for member in object where !privateMembers.contains(member.key) { out[member.key] = stripPrivate(member.value) }
        return .object(out)
    default: return value
    }
}

/// Whether the JWK `entry` may give `key` (the rules in JWK.verificationKey).
func fits(_ entry: JSONObject, _ key: VerificationKey, defaultAlg: JWSAlgorithm?, allowHMAC: Bool) -> Bool {
    guard entry["kid"]?.stringValue == key.kid else { return false }
    switch entry["alg"] {
    case .string(let name)?: if name != key.algorithm.name { return false }
    case nil: if key.algorithm != defaultAlg { return false }
    default: return false
    }
    if let use = entry["use"], use != .string("sig") { if use.stringValue != nil { return false } }
    let family = key.algorithm.family
    switch entry["kty"]?.stringValue {
    case "oct"?:
        guard allowHMAC, family == .hmac, let k = entry["k"]?.stringValue, let secret = Base64URL.decode(k),
              secret.count >= VerificationKey.minimumSecretLength(for: key.algorithm) else { return false }
        // The key is the secret: it verifies what the secret signs.
        let message = Array("fuzz signing input".utf8)
        guard let signer = try? SigningKey.hmac(secret: secret, algorithm: key.algorithm, kid: key.kid),
              let signature = try? signer.sign(message) else { return false }
        return key.verify(signingInput: message, signature: signature)
    case "RSA"?: return family == .rsaPKCS1 || family == .rsaPSS
    case "EC"?:
        guard let crv = entry["crv"]?.stringValue, let curve = EllipticCurve(rawValue: crv) else { return false }
        return family == .ecdsa(curve)
    case "OKP"?: return entry["crv"] == .string("Ed25519") && family == .edDSA
    default: return false
    }
}

func checkOutcome(_ outcome: Outcome, _ document: JSONValue?, defaultAlg: JWSAlgorithm?, allowHMAC: Bool,
                  _ input: [UInt8]) {
    let entries = document?.objectValue?["keys"]?.arrayValue
    guard let entries else {
        check(outcome.error.map { if case .badJWKS = $0 { return true } else { return false } } ?? false,
              "not a JWK set: bad JWK set", input)
        return
    }
    if let error = outcome.error {
        check(error == .noUsableKeys, "a JWK set without usable keys: \(error)", input)
        return
    }
    check(!outcome.loaded.isEmpty, "success has keys", input)
    check(outcome.loaded.count + outcome.warnings.count == entries.count, "each entry a key or one warning", input)
    var kids = Set<String>()
    for key in outcome.loaded {
        guard let kid = key.kid else { check(false, "key without kid", input); return }
        check(!kid.isEmpty && kids.insert(kid).inserted, "kid non-empty and unique", input)
        check(key.source == source, "source as given", input)
        check(allowHMAC || key.algorithm.family != .hmac, "no HMAC key from a fetched set", input)
        let fitting = entries.contains { entry in
            entry.objectValue.map { fits($0, key, defaultAlg: defaultAlg, allowHMAC: allowHMAC) } ?? false
        }
        check(fitting, "key \(kid) \(key.algorithm.name) comes from an entry that fits it", input)
    }
}

func checkNoLeak(_ outcome: Outcome, secrets: [String], other: [String], _ input: [UInt8]) {
    for secret in secrets where secret.count > 8 {
        if wording.contains(secret) || other.contains(where: { $0.contains(secret) }) { continue }
        for text in outcome.texts {
            check(!text.contains(secret), "secret member value shown in \(text.debugDescription)", input)
        }
    }
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let input = Array(data)
    let document = try? JSONParser.parse(input, limits: .keySet)
    var secrets: [String] = [], other: [String] = []
    if let document { strings(document, secret: &secrets, other: &other) }

    let local = load(input, defaultAlg: nil, allowHMAC: true)
    check(load(input, defaultAlg: nil, allowHMAC: true) == local, "deterministic", input)
    checkOutcome(local, document, defaultAlg: nil, allowHMAC: true, input)
    checkNoLeak(local, secrets: secrets, other: other, input)

    let hash = input.reduce(0) { ($0 &* 31) &+ Int($1) }
    let algorithms = JWSAlgorithm.allCases
    let defaultAlg = algorithms[abs(hash % algorithms.count)]
    let fetched = load(input, defaultAlg: defaultAlg, allowHMAC: false)
    checkOutcome(fetched, document, defaultAlg: defaultAlg, allowHMAC: false, input)
    checkNoLeak(fetched, secrets: secrets, other: other, input)

    if let document {
        let stripped = stripPrivate(document)
        if stripped != document {
            let without = load(JSONSerializer.serialize(stripped), defaultAlg: nil, allowHMAC: true)
            check(without == local, "private members are ignored", input)
        }
    }
}

FuzzReplay.main { fuzzOne($0) }
