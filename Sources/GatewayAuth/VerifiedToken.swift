/// A token whose signature and claims passed `JWTVerifier`: what the rest
/// of the request path (forwarding claims, refresh, revocation) needs.
public struct VerifiedToken: Sendable, Equatable {
    /// The fields, in one object: a token is handed from the cache to the
    /// exchange, the phases and the access log, and as a plain struct each
    /// hand-over copied a dozen strings and arrays (a retain and a release
    /// each, ~500 instructions a cached request). Immutable but for
    /// `tokenHash`, which is set copy-on-write.
    final class Storage: @unchecked Sendable {
        // @unchecked: every field but tokenHash is a `let`; tokenHash is
        // written only while the storage is uniquely referenced.
        let claimsJSON: [UInt8]
        let readClaims: JSONObject
        let readNames: ClaimsReader.Names?
        let scope: JSONValue?, scp: JSONValue?
        let sub: String?
        let exp: Int64
        let iat: Int64?
        let authTime: Int64?
        let rfc: Int64?
        let jti: String?
        let sid: String?
        let kid: String?
        let algorithm: JWSAlgorithm
        let expiredWithinLeeway: Bool
        @exclusivity(unchecked) var tokenHash: TokenHash?

        init(claimsJSON: [UInt8], readClaims: JSONObject, readNames: ClaimsReader.Names?,
             scope: JSONValue?, scp: JSONValue?, sub: String?, exp: Int64,
             iat: Int64?, authTime: Int64?, rfc: Int64?, jti: String?, sid: String?, kid: String?,
             algorithm: JWSAlgorithm, expiredWithinLeeway: Bool, tokenHash: TokenHash?) {
            self.claimsJSON = claimsJSON; self.readClaims = readClaims; self.readNames = readNames
            self.scope = scope; self.scp = scp
            self.sub = sub; self.exp = exp; self.iat = iat; self.authTime = authTime
            self.rfc = rfc; self.jti = jti; self.sid = sid; self.kid = kid; self.algorithm = algorithm
            self.expiredWithinLeeway = expiredWithinLeeway; self.tokenHash = tokenHash
        }

        func copy() -> Storage {
            Storage(claimsJSON: claimsJSON, readClaims: readClaims, readNames: readNames, scope: scope, scp: scp,
                    sub: sub, exp: exp, iat: iat, authTime: authTime, rfc: rfc, jti: jti, sid: sid, kid: kid,
                    algorithm: algorithm, expiredWithinLeeway: expiredWithinLeeway, tokenHash: tokenHash)
        }
    }

    private var storage: Storage

    /// The claim set's JSON as signed (already validated: `claims` parses it).
    public var claimsJSON: [UInt8] { storage.claimsJSON }
    /// The claims read at verification (`ClaimsReader`): those the checks
    /// use and the verifier's forward claims, in token order.
    public var readClaims: JSONObject { storage.readClaims }
    /// The names `readClaims` was read for; nil when it is the whole set.
    var readNames: ClaimsReader.Names? { storage.readNames }
    /// `scope` and `scp` as read, for `JWTVerifier.checkScopes` on every request.
    var scope: JSONValue? { storage.scope }
    var scp: JSONValue? { storage.scp }
    public var sub: String? { storage.sub }
    /// NumericDate seconds (fractions floored).
    public var exp: Int64 { storage.exp }
    public var iat: Int64? { storage.iat }
    /// OIDC `auth_time`: when the session started (SPEC §6).
    public var authTime: Int64? { storage.authTime }
    /// Refresh count (claim `rfc`, SPEC §6); nil when absent (means 0).
    public var rfc: Int64? { storage.rfc }
    public var jti: String? { storage.jti }
    /// Session id (SPEC §7), when present.
    public var sid: String? { storage.sid }
    public var kid: String? { storage.kid }
    public var algorithm: JWSAlgorithm { storage.algorithm }
    /// Past `exp` but inside the leeway: served, never refreshed (SPEC §5).
    public var expiredWithinLeeway: Bool { storage.expiredWithinLeeway }
    /// The keyed hash of the token's bytes, set when it went through the
    /// verify cache, so the reissue cache finds the token without hashing it
    /// again. A hint about the bytes, not part of what was verified: `==`
    /// ignores it, and a wrong one only makes a cache miss.
    var tokenHash: TokenHash? {
        get { storage.tokenHash }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.tokenHash = newValue
        }
    }

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
        storage = Storage(claimsJSON: claimsJSON, readClaims: readClaims, readNames: readNames,
                          scope: scope, scp: scp, sub: sub, exp: exp, iat: iat, authTime: authTime, rfc: rfc,
                          jti: jti, sid: sid, kid: kid, algorithm: algorithm,
                          expiredWithinLeeway: expiredWithinLeeway, tokenHash: nil)
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
