public import GatewayCore

/// Validates bearer tokens (SPEC §5): decode -> key selection -> signature
/// -> claims. Pure: time is passed in, nothing is fetched. Immutable and
/// shared by all workers; the per-worker `VerifiedTokenCache` is passed in.
public struct JWTVerifier: Sendable {
    public var keys: KeySet
    /// Accepted `iss` values; empty: `iss` is not checked.
    public var issuers: [String]
    /// Accepted `aud` values; empty: `aud` is not checked.
    public var audiences: [String]
    public var leewaySeconds: Int64
    /// Claims the request path forwards (`tokens.forward_claims`): read with
    /// the checked ones at verification, so `VerifiedToken.claim` finds them
    /// without parsing the claim set again.
    public var forwardClaims: [String] { didSet { readNames = Self.names(forwarding: forwardClaims) } }
    /// `checkedClaims` and `forwardClaims`: the members `ClaimsReader` makes values of.
    private var readNames: ClaimsReader.Names

    /// The claims `checkClaims` and `checkScopes` read; `CheckedClaims`
    /// relies on this order (they come first in `readNames`).
    public static let checkedClaims = ["iss", "aud", "sub", "exp", "nbf", "iat", "auth_time", "jti", "sid",
                                       "rfc", "scope", "scp"]

    public init(keys: KeySet, issuers: [String], audiences: [String], leewaySeconds: Int64,
                forwardClaims: [String] = []) {
        self.keys = keys
        self.issuers = issuers
        self.audiences = audiences
        self.leewaySeconds = max(0, leewaySeconds)
        self.forwardClaims = forwardClaims
        readNames = Self.names(forwarding: forwardClaims)
    }

    public init(keys: KeySet, tokens: TokensConfig) {
        self.init(keys: keys, issuers: tokens.issuers, audiences: tokens.audiences,
                  leewaySeconds: tokens.leewayMs / 1000, forwardClaims: tokens.forwardClaims.map(\.claim))
    }

    private static func names(forwarding forwardClaims: [String]) -> ClaimsReader.Names {
        ClaimsReader.Names(checkedClaims + forwardClaims)
    }

    /// Verifies `token` (the compact JWS bytes) for a route needing `scopes`
    /// at `now` (Unix seconds). Claims rules: `exp` required, numeric, and
    /// `exp > now - leeway`; `nbf` and `iat` numeric and `<= now + leeway`
    /// when present; `iss` among `issuers`; `aud` (string or array of
    /// strings) containing one of `audiences`; every scope in `scope`
    /// (space-separated) or `scp` (array, or string). Non-numeric time claims
    /// and wrongly typed `iss`/`aud`/`sub`/`jti`/`sid` are `malformed`.
    public func verify(_ token: UnsafeRawBufferPointer, scopes: [String], now: Int64) -> Result<VerifiedToken, AuthFailure> {
        verify(token, scopes: scopes, now: now, workspace: nil)
    }

    /// `verify` using a worker's prepared contexts and decode scratch when
    /// `workspace` is given.
    func verify(_ token: UnsafeRawBufferPointer, scopes: [String], now: Int64,
                workspace: VerifierWorkspace?) -> Result<VerifiedToken, AuthFailure> {
        func decodeAndVerify(_ scratch: UnsafeMutableRawBufferPointer) -> Result<VerifiedToken, AuthFailure> {
            let parts: JWSToken.Parts
            do throws(AuthFailure) {
                parts = try JWSToken.decodeParts(token, scratch: scratch, memo: workspace?.headerMemo)
            } catch {
                return .failure(error)
            }
            return verify(token: token, kid: parts.kid, algorithm: parts.algorithm,
                          signingInputLength: parts.signingInputLength,
                          payload: UnsafeRawBufferPointer(rebasing: scratch[parts.payload]),
                          signature: UnsafeRawBufferPointer(rebasing: scratch[parts.signature]),
                          scopes: scopes, now: now, workspace: workspace)
        }
        guard let workspace else {
            var scratch = [UInt8](repeating: 0, count: JWSToken.scratchSize)
            return scratch.withUnsafeMutableBytes(decodeAndVerify)
        }
        return workspace.withScratch(decodeAndVerify)
    }

    /// Key selection, signature and claims of a decoded token.
    private func verify(token: UnsafeRawBufferPointer, kid: String?, algorithm: JWSAlgorithm?, signingInputLength: Int,
                        payload: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer, scopes: [String],
                        now: Int64, workspace: VerifierWorkspace?) -> Result<VerifiedToken, AuthFailure> {
        let key: VerificationKey
        switch keys.select(kid: kid, algorithm: algorithm) {
        case .success(let k): key = k
        case .failure(let f): return .failure(f)
        }
        let signingInput = UnsafeRawBufferPointer(rebasing: token[0..<signingInputLength])
        let valid: Bool
        if let workspace {
            valid = key.verify(signingInput: signingInput, signature: signature, workspace: workspace)
        } else {
            valid = key.verify(signingInput: signingInput, signature: signature)
        }
        guard valid else { return .failure(.badSignature) }
        let verified: VerifiedToken
        switch checkClaims(payload: payload, kid: kid, algorithm: key.algorithm, now: now) {
        case .success(let v): verified = v
        case .failure(let f): return .failure(f)
        }
        if let failure = JWTVerifier.checkScopes(verified, required: scopes) { return .failure(failure) }
        return .success(verified)
    }

    public func verify(_ token: [UInt8], scopes: [String], now: Int64) -> Result<VerifiedToken, AuthFailure> {
        token.withUnsafeBytes { verify($0, scopes: scopes, now: now) }
    }

    public func verify(_ token: ArraySlice<UInt8>, scopes: [String], now: Int64) -> Result<VerifiedToken, AuthFailure> {
        token.withUnsafeBytes { verify($0, scopes: scopes, now: now) }
    }

    /// As `verify`, consulting and filling a per-worker cache first. A hit
    /// skips decoding and signature work but still checks expiry (the cache
    /// drops entries at `exp`) and the route's scopes.
    public func verify(_ token: UnsafeRawBufferPointer, scopes: [String], now: Int64,
                       cache: VerifiedTokenCache) -> Result<VerifiedToken, AuthFailure> {
        // One keyed hash per request: used here and, carried on the result,
        // by the reissue cache.
        let hash = TokenHash.of(token: token)
        if let hit = cache.lookup(token, hash: hash, now: now) {
            if let failure = JWTVerifier.checkScopes(hit, required: scopes) { return .failure(failure) }
            return .success(hit)
        }
        // Verify without scopes first so a token cached on one route serves
        // another; then apply this route's scopes.
        let result = verify(token, scopes: [], now: now, workspace: cache.workspace)
        guard case .success(var verified) = result else { return result }
        verified.tokenHash = hash
        if !verified.expiredWithinLeeway { cache.insert(token, hash: hash, verified, now: now) }
        if let failure = JWTVerifier.checkScopes(verified, required: scopes) { return .failure(failure) }
        return .success(verified)
    }

    public func verify(_ token: [UInt8], scopes: [String], now: Int64,
                       cache: VerifiedTokenCache) -> Result<VerifiedToken, AuthFailure> {
        token.withUnsafeBytes { verify($0, scopes: scopes, now: now, cache: cache) }
    }

    public func verify(_ token: ArraySlice<UInt8>, scopes: [String], now: Int64,
                       cache: VerifiedTokenCache) -> Result<VerifiedToken, AuthFailure> {
        token.withUnsafeBytes { verify($0, scopes: scopes, now: now, cache: cache) }
    }

    // MARK: Claims

    /// Reads the claim set (`ClaimsReader`: JSONParser's rules, values only
    /// for `readNames`) and applies the rules of `verify` (not scopes).
    func checkClaims(payload: [UInt8], kid: String?, algorithm: JWSAlgorithm,
                     now: Int64) -> Result<VerifiedToken, AuthFailure> {
        payload.withUnsafeBytes { checkClaims(payload: $0, kid: kid, algorithm: algorithm, now: now) }
    }

    func checkClaims(payload: UnsafeRawBufferPointer, kid: String?, algorithm: JWSAlgorithm,
                     now: Int64) -> Result<VerifiedToken, AuthFailure> {
        var claims = CheckedClaims()
        do {
            guard try ClaimsReader.read(payload, names: readNames, limits: .token, into: &claims) else {
                return .failure(.malformed("claims are not an object"))
            }
        } catch {
            if error.kind == .duplicateKey { return .failure(.malformed("duplicate claim")) }
            if error.kind == .tooDeep { return .failure(.malformed("claims nested too deep")) }
            return .failure(.malformed("claims are not valid JSON"))
        }

        // Types first, so a wrongly typed claim is `malformed` whatever else fails.
        guard let expValue = claims.exp else { return .failure(.malformed("missing exp")) }
        guard let exp = JWTVerifier.numericDate(expValue) else { return .failure(.malformed("exp is not a NumericDate")) }
        var nbf: Int64? = nil, iat: Int64? = nil, authTime: Int64? = nil, rfc: Int64? = nil
        if let v = claims.nbf {
            guard let n = JWTVerifier.numericDate(v) else { return .failure(.malformed("nbf is not a NumericDate")) }
            nbf = n
        }
        if let v = claims.iat {
            guard let n = JWTVerifier.numericDate(v) else { return .failure(.malformed("iat is not a NumericDate")) }
            iat = n
        }
        if let v = claims.authTime {
            guard let n = JWTVerifier.numericDate(v) else { return .failure(.malformed("auth_time is not a NumericDate")) }
            authTime = n
        }
        if let v = claims.rfc {
            guard case .int(let n) = v, n >= 0 else { return .failure(.malformed("rfc is not a count")) }
            rfc = n
        }
        func string(_ value: JSONValue?, _ name: String) -> Result<String?, AuthFailure> {
            guard let v = value else { return .success(nil) }
            guard case .string(let s) = v else { return .failure(.malformed("\(name) is not a string")) }
            return .success(s)
        }
        let sub: String?, jti: String?, sid: String?, iss: String?
        switch string(claims.sub, "sub") { case .success(let v): sub = v; case .failure(let f): return .failure(f) }
        switch string(claims.jti, "jti") { case .success(let v): jti = v; case .failure(let f): return .failure(f) }
        switch string(claims.sid, "sid") { case .success(let v): sid = v; case .failure(let f): return .failure(f) }
        switch string(claims.iss, "iss") { case .success(let v): iss = v; case .failure(let f): return .failure(f) }
        var audienceValues: [String] = []
        switch claims.aud {
        case nil: break
        case .string(let s)?: audienceValues = [s]
        case .array(let items)?:
            for item in items {
                guard case .string(let s) = item else { return .failure(.malformed("aud is not strings")) }
                audienceValues.append(s)
            }
        default: return .failure(.malformed("aud is not a string or array"))
        }

        if !issuers.isEmpty {
            guard let iss, issuers.contains(iss) else { return .failure(.wrongIssuer) }
        }
        if !audiences.isEmpty {
            guard audienceValues.contains(where: { audiences.contains($0) }) else { return .failure(.wrongAudience) }
        }
        // RFC 7519 §4.1.4: valid only before exp; leeway extends it.
        guard exp > now - leewaySeconds else { return .failure(.expired) }
        if let nbf, nbf > now + leewaySeconds { return .failure(.notYetValid) }
        if let iat, iat > now + leewaySeconds { return .failure(.notYetValid) }

        return .success(VerifiedToken(
            claimsJSON: Array(payload), readClaims: JSONObject(uniqueMembers: claims.members), readNames: readNames,
            scope: claims.scope, scp: claims.scp, sub: sub, exp: exp, iat: iat, authTime: authTime, rfc: rfc,
            jti: jti, sid: sid, kid: kid, algorithm: algorithm,
            expiredWithinLeeway: exp <= now))
    }

    /// RFC 7519 §2 NumericDate as whole seconds (fractions floored). Doubles
    /// beyond ±2^53 (e.g. 1e300) are refused rather than saturated: no real
    /// date is that far out, and clamping would turn junk into "never expires".
    static func numericDate(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let i):
            return i
        case .double(let d):
            guard d.isFinite, abs(d) <= 9_007_199_254_740_992 else { return nil }
            return Int64(d.rounded(.down))
        default:
            return nil
        }
    }

    /// Nil when every `required` scope is in `scope` (space-separated
    /// string, RFC 8693 §4.2) or `scp` (array or string); otherwise
    /// `insufficientScope` listing ALL the required scopes, not only the
    /// missing ones: RFC 6750 §3 defines `scope=` as the scope necessary to
    /// access the resource, so a client can ask for exactly that.
    public static func checkScopes(_ token: VerifiedToken, required: [String]) -> AuthFailure? {
        guard !required.isEmpty else { return nil }
        let scope = token.scope, scp = token.scp
        for want in required {
            var found = false
            if case .string(let s)? = scope { found = spaceSeparated(s, contains: want) }
            if !found {
                switch scp {
                case .array(let items)?:
                    found = items.contains { if case .string(let s) = $0 { return s == want } else { return false } }
                case .string(let s)?:
                    found = spaceSeparated(s, contains: want)
                default:
                    break
                }
            }
            if !found { return .insufficientScope(required) }
        }
        return nil
    }

    /// True when `want` is one of the space-separated, non-empty words of
    /// `list`, with String equality. ASCII (every real scope) is scanned
    /// byte by byte without allocating; anything else goes through
    /// `split`, where Characters and canonical equivalence decide.
    static func spaceSeparated(_ list: String, contains want: String) -> Bool {
        var list = list, want = want
        let ascii: Bool? = list.withUTF8 { l in
            want.withUTF8 { w -> Bool? in
                guard l.allSatisfy({ $0 < 0x80 }), w.allSatisfy({ $0 < 0x80 }) else { return nil }
                var i = 0
                while i < l.count {
                    while i < l.count && l[i] == 0x20 { i += 1 }
                    let start = i
                    while i < l.count && l[i] != 0x20 { i += 1 }
                    if i > start && i - start == w.count
                        && UnsafeBufferPointer(rebasing: l[start..<i]).elementsEqual(w) { return true }
                }
                return false
            }
        }
        if let ascii { return ascii }
        return list.split(separator: " ", omittingEmptySubsequences: true).contains { $0 == want }
    }
}

/// What `checkClaims` takes from `ClaimsReader`: every member read (for
/// `VerifiedToken.readClaims`) and the checked ones by their index in
/// `JWTVerifier.checkedClaims` (no lookups by name).
struct CheckedClaims: ClaimsReader.Sink {
    var members: [JSONObject.Member] = []
    var iss: JSONValue?, aud: JSONValue?, sub: JSONValue?, exp: JSONValue?, nbf: JSONValue?, iat: JSONValue?
    var authTime: JSONValue?, jti: JSONValue?, sid: JSONValue?, rfc: JSONValue?, scope: JSONValue?, scp: JSONValue?

    init() { members.reserveCapacity(JWTVerifier.checkedClaims.count) }

    mutating func take(_ nameIndex: Int, _ member: JSONObject.Member) {
        members.append(member)
        // The order of JWTVerifier.checkedClaims.
        switch nameIndex {
        case 0: iss = member.value
        case 1: aud = member.value
        case 2: sub = member.value
        case 3: exp = member.value
        case 4: nbf = member.value
        case 5: iat = member.value
        case 6: authTime = member.value
        case 7: jti = member.value
        case 8: sid = member.value
        case 9: rfc = member.value
        case 10: scope = member.value
        case 11: scp = member.value
        default: break
        }
    }
}
