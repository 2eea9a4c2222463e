/// Why a `Gateway-Session` header value was refused.
public enum SessionClaimsError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge
    case notAnObject
    /// No `sub`, or one that is not a non-empty string.
    case missingSubject
    case malformed(JSONError)

    public var description: String {
        switch self {
        case .tooLarge: return "Gateway-Session over \(SessionTokenMinter.maxSessionClaimBytes) bytes"
        case .notAnObject: return "Gateway-Session is not a JSON object"
        case .missingSubject: return "Gateway-Session has no string \"sub\""
        case .malformed(let e): return "Gateway-Session is not valid JSON: \(e)"
        }
    }
}

/// Mints the access tokens of sessions (SPEC §7), deterministically: the
/// same session, time and refresh token give the same bytes on every
/// instance with the same keys, which is what makes a grace replay
/// byte-identical. Claims, in this order: `iss`, `sub`, `aud` (the first
/// of `issuers`/`audiences`), `iat`, `exp` = min(iat + access_ttl, session
/// end), `auth_time` (the session's start), `sid`, `jti` (derived from the
/// refresh token handed out with it), then the session's own claims.
///
/// Signatures are deterministic for HMAC, RSA PKCS#1 v1.5, EdDSA and ECDSA
/// (RFC 6979); RSA-PSS salts are random, so with a PS* signing key a replay
/// carries an equally valid token that is not the same bytes.
public struct SessionTokenMinter: Sendable {
    /// Largest accepted `Gateway-Session` value, in bytes.
    public static let maxSessionClaimBytes = 4096

    public let signer: TokenSigner
    public let issuer: String
    public let audience: String
    public let accessTTLSeconds: Int64

    public init(signingKey: SigningKey, issuer: String, audience: String, accessTTLMs: Int64) {
        signer = TokenSigner(key: signingKey)
        self.issuer = issuer
        self.audience = audience
        accessTTLSeconds = max(1, accessTTLMs / 1000)
    }

    /// Parses an upstream `Gateway-Session` value: a strict JSON object with
    /// a non-empty string `sub`. Returns the subject and the other claims,
    /// reserved claims (SPEC §6) removed.
    public static func parseSessionClaims(_ value: UnsafeRawBufferPointer)
        -> Result<(sub: String, claims: JSONObject), SessionClaimsError> {
        guard value.count <= maxSessionClaimBytes else { return .failure(.tooLarge) }
        let object: JSONObject
        do {
            let limits = JSONParser.Limits(maxBytes: maxSessionClaimBytes, maxDepth: JSONParser.Limits.token.maxDepth)
            guard case .object(let o) = try JSONParser.parse(value, limits: limits) else { return .failure(.notAnObject) }
            object = o
        } catch {
            return .failure(.malformed(error))
        }
        guard case .string(let sub)? = object["sub"], !sub.isEmpty else { return .failure(.missingSubject) }
        var claims = JSONObject()
        for member in object where !TokenReissuer.reservedClaims.contains(member.key) {
            claims[member.key] = member.value
        }
        return .success((sub, claims))
    }

    /// The access token of a session, as issued at `issuedAtMs` together with
    /// `refreshToken`. `claims` is the session's stored claim object
    /// (serialized JSON); `sessionKey` derives the jti. `workspace`: a
    /// worker's (`ReissueCache.workspace`), on that worker's thread only.
    public func accessToken(sid: String, sub: String, claims: [UInt8], startMs: Int64, expiresMs: Int64,
                            issuedAtMs: Int64, refreshToken: String, sessionKey: [UInt8],
                            workspace: SignerWorkspace? = nil) throws(OpenSSLError) -> (token: String, expiresIn: Int64) {
        let iat = issuedAtMs / 1000
        let exp = min(iat + accessTTLSeconds, expiresMs / 1000)
        var object = JSONObject()
        object["iss"] = .string(issuer)
        object["sub"] = .string(sub)
        object["aud"] = .string(audience)
        object["iat"] = .int(iat)
        object["exp"] = .int(exp)
        object["auth_time"] = .int(startMs / 1000)
        object["sid"] = .string(sid)
        let jti = try SessionCrypto.derive("access jti", Array(refreshToken.utf8), sessionKey: sessionKey)
        object["jti"] = .string(Base64URL.encodeToString(jti.prefix(16)))
        // Stored by this gateway from a parsed object: a failure here is a
        // corrupt store entry, and the session's own claims are dropped
        // rather than the login refused.
        if case .object(let extra)? = try? JSONParser.parse(claims, limits: .token) {
            for member in extra where !TokenReissuer.reservedClaims.contains(member.key) {
                object[member.key] = member.value
            }
        }
        // The worker's prepared signing state (RFC 6979 DRBG, per-key ECDSA
        // numbers) when given: the same bytes, a fraction of the cost.
        let token = try signer.sign(claims: object, workspace: workspace)
        return (String(decoding: token, as: UTF8.self), exp - iat)
    }
}
