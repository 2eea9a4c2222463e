// Fuzz target for compact JWS decoding, the strict JSON parser, base64url
// and the whole verifier.
//
// Built normally it replays files (or directories of files) given as
// arguments: how crashes are re-run and how the seed corpus in
// Tests/Fuzz/corpus/jws stays exercised (`swift run JWSFuzz Tests/Fuzz/corpus/jws`).
// Built with `-D FUZZING -sanitize=fuzzer,address` (one combined flag) it
// hands control to libFuzzer: `scripts/fuzz.sh jws 600`.
//
// Invariants (a violation aborts, which libFuzzer records as a crash):
//  - base64url: a decoded input re-encodes to exactly the input (canonical);
//  - JSON: a parsed value serialises, parses back equal, and serialises to
//    the same bytes again;
//  - JWS: a decoded token's parts re-encode to the input, and the verifier
//    (HS256 key, issuer/audience/scope checks) never crashes and never
//    accepts a token whose signature does not verify.
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

let secret = [UInt8](repeating: 0x42, count: 32)
let signingKey: SigningKey? = try? SigningKey.hmac(secret: secret, algorithm: .hs256, kid: "fuzz")
let verifier: JWTVerifier? = signingKey.flatMap { key in
    (try? KeySet(keys: [key.verificationKey])).map {
        JWTVerifier(keys: $0, issuers: ["iss"], audiences: ["aud"], leewaySeconds: 30)
    }
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    if let decoded = Base64URL.decode(data) {
        check(Base64URL.encode(decoded) == Array(data), "base64url canonical round trip")
    }
    if let value = try? JSONParser.parse(data, limits: .token) {
        let once = JSONSerializer.serialize(value)
        let again = try? JSONParser.parse(once, limits: .init(maxBytes: 1 << 20, maxDepth: 16))
        check(again == value, "JSON re-parse equal")
        if let again { check(JSONSerializer.serialize(again) == once, "JSON serialisation stable") }
    }
    if let token = try? JWSToken.decode(data) {
        check(token.signingInputLength < data.count, "signing input inside token")
        let sig = Base64URL.encode(token.signature)
        check(Array(data[(data.count - sig.count)...]) == sig, "signature part re-encodes")
    }
    if let verifier, let key = signingKey?.verificationKey,
       case .success = verifier.verify(data, scopes: ["read"], now: 1_800_000_000) {
        let token = try? JWSToken.decode(data)
        let ok = token.map { t in
            t.signature.withUnsafeBytes {
                key.verify(signingInput: UnsafeRawBufferPointer(rebasing: data[0..<t.signingInputLength]), signature: $0)
            }
        } ?? false
        check(ok, "accepted token has a valid signature")
    }
}

@main
struct JWSFuzzDriver {
    static func main() { FuzzReplay.main { fuzzOne($0) } }
}
