/// A token whose signature and claims passed `JWTVerifier`: what the rest
/// of the request path (forwarding claims, refresh, revocation) needs.
public struct VerifiedToken: Sendable, Equatable {
    /// The whole claim set, members in token order.
    public var claims: JSONObject
    public var sub: String?
    /// NumericDate seconds (fractions floored).
    public var exp: Int64
    public var iat: Int64?
    /// OIDC `auth_time`: when the session started (SPEC §6).
    public var authTime: Int64?
    /// Refresh count (claim `rfc`, SPEC §6); nil when absent (means 0).
    public var rfc: Int64?
    public var jti: String?
    /// Session id (SPEC §7), when present.
    public var sid: String?
    public var kid: String?
    public var algorithm: JWSAlgorithm
    /// Past `exp` but inside the leeway: served, never refreshed (SPEC §5).
    public var expiredWithinLeeway: Bool
    /// The keyed hash of the token's bytes, set when it went through the
    /// verify cache, so the reissue cache finds the token without hashing it
    /// again. A hint about the bytes, not part of what was verified: `==`
    /// ignores it, and a wrong one only makes a cache miss.
    var tokenHash: TokenHash? = nil

    public init(claims: JSONObject, sub: String?, exp: Int64, iat: Int64?, authTime: Int64?, rfc: Int64?,
                jti: String?, sid: String?, kid: String?, algorithm: JWSAlgorithm, expiredWithinLeeway: Bool) {
        self.claims = claims; self.sub = sub; self.exp = exp; self.iat = iat; self.authTime = authTime
        self.rfc = rfc; self.jti = jti; self.sid = sid; self.kid = kid; self.algorithm = algorithm
        self.expiredWithinLeeway = expiredWithinLeeway
    }

    /// Every verified field; not `tokenHash` (see there).
    public static func == (a: VerifiedToken, b: VerifiedToken) -> Bool {
        a.claims == b.claims && a.sub == b.sub && a.exp == b.exp && a.iat == b.iat && a.authTime == b.authTime
            && a.rfc == b.rfc && a.jti == b.jti && a.sid == b.sid && a.kid == b.kid && a.algorithm == b.algorithm
            && a.expiredWithinLeeway == b.expiredWithinLeeway
    }
}
