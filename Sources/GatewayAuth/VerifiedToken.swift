/// A token whose signature and claims passed `JWTVerifier`: what the rest
/// of the request path (forwarding claims, refresh, revocation) needs.
public struct VerifiedToken: Sendable, Equatable {
    /// The claim set's JSON as signed (already validated: `claims` parses it).
    public let claimsJSON: [UInt8]
    /// The claims read at verification (`ClaimsReader`): those the checks
    /// use and the verifier's forward claims, in token order.
    public let readClaims: JSONObject
    /// The names `readClaims` was read for; nil when it is the whole set.
    let readNames: ClaimsReader.Names?
    /// `scope` and `scp` as read, for `JWTVerifier.checkScopes` on every request.
    let scope: JSONValue?, scp: JSONValue?
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

    /// A token whose whole claim set is `claims` (tests, minted tokens).
    public init(claims: JSONObject, sub: String?, exp: Int64, iat: Int64?, authTime: Int64?, rfc: Int64?,
                jti: String?, sid: String?, kid: String?, algorithm: JWSAlgorithm, expiredWithinLeeway: Bool) {
        self.init(claimsJSON: JSONSerializer.serialize(claims), readClaims: claims, readNames: nil,
                  scope: claims["scope"], scp: claims["scp"], sub: sub,
                  exp: exp, iat: iat, authTime: authTime, rfc: rfc, jti: jti, sid: sid, kid: kid,
                  algorithm: algorithm, expiredWithinLeeway: expiredWithinLeeway)
    }

    /// As the verifier makes it: `readClaims` holds the members of
    /// `claimsJSON` named in `readNames`.
    init(claimsJSON: [UInt8], readClaims: JSONObject, readNames: ClaimsReader.Names?,
         scope: JSONValue?, scp: JSONValue?, sub: String?, exp: Int64,
         iat: Int64?, authTime: Int64?, rfc: Int64?, jti: String?, sid: String?, kid: String?,
         algorithm: JWSAlgorithm, expiredWithinLeeway: Bool) {
        self.claimsJSON = claimsJSON; self.readClaims = readClaims; self.readNames = readNames
        self.scope = scope; self.scp = scp
        self.sub = sub; self.exp = exp; self.iat = iat; self.authTime = authTime
        self.rfc = rfc; self.jti = jti; self.sid = sid; self.kid = kid; self.algorithm = algorithm
        self.expiredWithinLeeway = expiredWithinLeeway
    }

    /// The whole claim set, members in token order. Parses `claimsJSON` on
    /// every call: for reissuing, not for the request path (use `claim`).
    public var claims: JSONObject {
        guard readNames != nil else { return readClaims }
        // Cannot fail: the verifier accepted these bytes with JSONParser's rules.
        guard case .object(let all)? = try? JSONParser.parse(claimsJSON, limits: .token) else { return JSONObject() }
        return all
    }

    /// The value of one claim, as `claims[name]` gives it: from `readClaims`
    /// when the verifier read that name (the checked claims and its forward
    /// claims), otherwise by parsing `claimsJSON`.
    public func claim(_ name: String) -> JSONValue? {
        if let value = readClaims[name] { return value }
        guard let readNames, !readNames.contains(name) else { return nil }
        return claims[name]
    }

    /// Every verified field; not `tokenHash` (see there).
    public static func == (a: VerifiedToken, b: VerifiedToken) -> Bool {
        (a.claimsJSON == b.claimsJSON || a.claims == b.claims) && a.sub == b.sub && a.exp == b.exp && a.iat == b.iat
            && a.authTime == b.authTime && a.rfc == b.rfc && a.jti == b.jti && a.sid == b.sid && a.kid == b.kid
            && a.algorithm == b.algorithm && a.expiredWithinLeeway == b.expiredWithinLeeway
    }
}
