public import GatewayCore

/// Why a reissue produced no token.
public enum ReissueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The new token would exceed `JWSToken.maxLength` (bytes given), so the
    /// gateway itself would refuse it on the next request; claim updates
    /// are the usual cause.
    case tokenTooLarge(Int)
    /// libcrypto failed while deriving the jti or signing.
    case signing(OpenSSLError)

    public var description: String {
        switch self {
        case .tokenTooLarge(let n): return "reissued token too large (\(n) bytes)"
        case .signing(let e): return "reissue: \(e)"
        }
    }
}

/// Why a `Gateway-Update-Claims` header value was refused.
public enum ClaimUpdateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Over `TokenReissuer.maxClaimUpdateBytes`.
    case tooLarge
    /// Valid JSON, but not an object.
    case notAnObject
    /// Not strict JSON (see `JSONParser`).
    case malformed(JSONError)

    public var description: String {
        switch self {
        case .tooLarge: return "claim update over \(TokenReissuer.maxClaimUpdateBytes) bytes"
        case .notAnObject: return "claim update is not a JSON object"
        case .malformed(let e): return "claim update is not valid JSON: \(e)"
        }
    }
}

/// Signs the token that replaces a verified one (SPEC §6), deterministically:
/// the same old token, updates, key and config in the same 30 s quantum give
/// the byte-identical new token, in any process holding the same key. That
/// is what makes ten parallel requests with one old token receive one new
/// token, and two gateway instances agree.
///
/// Call it only after `RefreshPolicy.decide` returned `.reissue`; it builds
/// what it is asked to and does not re-check the limits. Immutable and
/// `Sendable`: one instance serves every worker; pair it with a per-worker
/// `ReissueCache` so a repeated old token costs a lookup, not a signature.
public struct TokenReissuer: Sendable {
    /// Claims a claim update can never set or remove (SPEC §6).
    public static let reservedClaims: [String] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "rfc", "sid"]
    /// Largest accepted `Gateway-Update-Claims` value, in bytes.
    public static let maxClaimUpdateBytes = 4096
    /// Bytes of HMAC output kept for a derived jti (128 bits, 22 base64url characters).
    static let jtiBytes = 16

    public let signingKey: SigningKey
    public let config: RefreshConfig
    private let signer: TokenSigner
    private let jtiKey: HMACKey

    /// Derives the jti key from `signingKey` (label "gateway refresh jti").
    public init(signingKey: SigningKey, config: RefreshConfig) throws(OpenSSLError) {
        self.signingKey = signingKey
        self.config = config
        signer = TokenSigner(key: signingKey)
        jtiKey = try HMACKey(key: try signingKey.deriveSecret(label: "gateway refresh jti"), digest: .sha256)
    }

    /// The claim set of the new token, members in this order: every old
    /// claim in its original position, with `iat`, `exp`, `rfc`, `jti`
    /// replaced in place; then, for those absent before, `auth_time`, `iat`,
    /// `exp`, `rfc`, `jti` appended in that order; then `updates`.
    ///
    /// - `auth_time`: kept as written; absent, the old `iat`; neither, the
    ///   new `iat` (`RefreshPolicy.reissuedAuthTime`).
    /// - `iat`: `now` floored to the quantum, never before the old `iat`
    ///   (`RefreshPolicy.reissuedIssuedAt`).
    /// - `exp`: min(iat + ttl, auth_time + max_session).
    /// - `rfc`: old + 1 (absent counts as 0).
    /// - `jti`: base64url of the first 16 bytes of HMAC-SHA256 under a key
    ///   derived from the signing key, of the old `jti` (UTF-8), or of the
    ///   whole old token when it has none. A claim update of one old token
    ///   therefore shares the jti of its plain refresh: both continue the
    ///   same token, and revoking that jti revokes both.
    /// - `updates`: top-level members merged after (RFC 7396 at the top
    ///   level: a value replaces the claim in place or is appended; `null`
    ///   removes it); `reservedClaims` are ignored.
    public func claims(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?,
                       now: Int64) throws(OpenSSLError) -> JSONObject {
        try claims(old: token, verified: verified, updates: updates, now: now, workspace: nil)
    }

    func claims(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?,
                now: Int64, workspace: SignerWorkspace?) throws(OpenSSLError) -> JSONObject {
        var claims = verified.claims
        let iat = RefreshPolicy.reissuedIssuedAt(verified, now: now)
        if claims["auth_time"] == nil {
            claims["auth_time"] = .int(RefreshPolicy.reissuedAuthTime(verified, now: now))
        }
        claims["iat"] = .int(iat)
        claims["exp"] = .int(RefreshPolicy.reissuedExpiry(verified, config: config, now: now))
        let (rfc, overflow) = (verified.rfc ?? 0).addingReportingOverflow(1)
        claims["rfc"] = .int(overflow ? Int64.max : rfc)
        claims["jti"] = .string(try derivedJTI(old: token, jti: verified.jti, workspace: workspace))
        if let updates {
            for member in updates where !Self.reservedClaims.contains(member.key) {
                claims[member.key] = member.value == .null ? nil : member.value
            }
        }
        return claims
    }

    /// Appends to `out` the bytes of `JSONSerializer.serialize(claims(old:verified:updates:now:))`,
    /// written from `verified.claimsJSON` by `ReissuedClaimsWriter` without
    /// the JSONObject. False (with `out` partly written) when the writer
    /// refused the text; the caller then serializes `claims(...)`.
    func writeClaims(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?, now: Int64,
                     workspace: SignerWorkspace?, into out: inout [UInt8]) throws(OpenSSLError) -> Bool {
        let (rfc, overflow) = (verified.rfc ?? 0).addingReportingOverflow(1)
        let values = ReissuedClaimsWriter.Replacements(
            authTime: RefreshPolicy.reissuedAuthTime(verified, now: now),
            iat: RefreshPolicy.reissuedIssuedAt(verified, now: now),
            exp: RefreshPolicy.reissuedExpiry(verified, config: config, now: now),
            rfc: overflow ? Int64.max : rfc,
            jti: try derivedJTI(old: token, jti: verified.jti, workspace: workspace))
        return verified.claimsJSON.withUnsafeBytes {
            ReissuedClaimsWriter.write(claimsJSON: $0, replacements: values, updates: updates,
                                       reserved: Self.reservedClaims, into: &out)
        }
    }

    /// The new compact token (ASCII bytes) for `token`, whose verification
    /// is `verified`, at `now`; see `claims(old:verified:updates:now:)` for
    /// the claims. The header is the signing key's `alg`, `kid`, `typ`
    /// (`TokenSigner`).
    public func reissue(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?,
                        now: Int64) throws(ReissueError) -> [UInt8] {
        try reissue(old: token, verified: verified, updates: updates, now: now, workspace: nil)
    }

    /// As `reissue`, same bytes, with a worker's prepared signing state.
    func reissue(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?,
                 now: Int64, workspace: SignerWorkspace?) throws(ReissueError) -> [UInt8] {
        let newToken: [UInt8]
        do throws(OpenSSLError) {
            if let workspace, verified.readNames != nil {
                // The claims serialized straight into the worker's scratch.
                var scratch = workspace.claimsScratch
                workspace.claimsScratch = []
                defer { workspace.claimsScratch = scratch }
                scratch.removeAll(keepingCapacity: true)
                if try writeClaims(old: token, verified: verified, updates: updates, now: now,
                                   workspace: workspace, into: &scratch) {
                    let result: Result<[UInt8], OpenSSLError> = scratch.withUnsafeBytes { raw in
                        do throws(OpenSSLError) { return .success(try signer.sign(claimBytes: raw, workspace: workspace)) } catch { return .failure(error) }
                    }
                    newToken = try result.get()
                } else {
                    let claims = try claims(old: token, verified: verified, updates: updates, now: now, workspace: workspace)
                    newToken = try signer.sign(claims: claims, workspace: workspace)
                }
            } else {
                let claims = try claims(old: token, verified: verified, updates: updates, now: now, workspace: workspace)
                newToken = try signer.sign(claims: claims, workspace: workspace)
            }
        } catch {
            throw .signing(error)
        }
        guard newToken.count <= JWSToken.maxLength else { throw .tokenTooLarge(newToken.count) }
        return newToken
    }

    public func reissue(old token: [UInt8], verified: VerifiedToken, updates: JSONObject?,
                        now: Int64) throws(ReissueError) -> [UInt8] {
        let result: Result<[UInt8], ReissueError> = token.withUnsafeBytes { raw in
            do throws(ReissueError) {
                return .success(try reissue(old: raw, verified: verified, updates: updates, now: now))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// As `reissue`, answering from `cache` when this worker already
    /// reissued `token` (with equal `updates`) in the current quantum, and
    /// filling it otherwise. Same bytes either way.
    public func reissue(old token: UnsafeRawBufferPointer, verified: VerifiedToken, updates: JSONObject?,
                        now: Int64, cache: ReissueCache) throws(ReissueError) -> [UInt8] {
        let updateKey = updates.map { JSONSerializer.serialize($0) }
        // The verify cache already hashed this token; hash it once per request.
        let hash = verified.tokenHash ?? TokenHash.of(token: token)
        if let hit = cache.lookup(oldToken: token, tokenHash: hash, updateKey: updateKey, now: now) { return hit }
        let newToken = try reissue(old: token, verified: verified, updates: updates, now: now, workspace: cache.workspace)
        cache.insert(oldToken: token, tokenHash: hash, updateKey: updateKey, newToken: newToken, now: now)
        return newToken
    }

    public func reissue(old token: [UInt8], verified: VerifiedToken, updates: JSONObject?,
                        now: Int64, cache: ReissueCache) throws(ReissueError) -> [UInt8] {
        let result: Result<[UInt8], ReissueError> = token.withUnsafeBytes { raw in
            do throws(ReissueError) {
                return .success(try reissue(old: raw, verified: verified, updates: updates, now: now, cache: cache))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func derivedJTI(old token: UnsafeRawBufferPointer, jti: String?,
                            workspace: SignerWorkspace?) throws(OpenSSLError) -> String {
        var mac = [UInt8](repeating: 0, count: jtiKey.size)
        let context = workspace?.mac(for: jtiKey)
        let ok = mac.withUnsafeMutableBytes { out in
            func authenticate(_ data: UnsafeRawBufferPointer) -> Bool {
                if let context { return context.authenticate(data, into: out) }
                return jtiKey.authenticate(data, into: out)
            }
            if var jti { return jti.withUTF8 { authenticate(UnsafeRawBufferPointer($0)) } }
            return authenticate(token)
        }
        guard ok else { throw OpenSSLError.capture("EVP_MAC_final") }
        return Base64URL.encodeToString(mac.prefix(Self.jtiBytes))
    }

    // MARK: Claim updates

    /// Parses an upstream `Gateway-Update-Claims` value (SPEC §6): a strict
    /// JSON object (`JSONParser`: no duplicate names, valid UTF-8, nesting
    /// up to 16), at most `maxClaimUpdateBytes`. Reserved claims are kept
    /// here and ignored by the merge. On failure the caller logs, counts,
    /// and still delivers the upstream response, without a new token.
    public static func parseClaimUpdates(_ headerValue: UnsafeRawBufferPointer) -> Result<JSONObject, ClaimUpdateError> {
        guard headerValue.count <= maxClaimUpdateBytes else { return .failure(.tooLarge) }
        do {
            let limits = JSONParser.Limits(maxBytes: maxClaimUpdateBytes, maxDepth: JSONParser.Limits.token.maxDepth)
            guard case .object(let object) = try JSONParser.parse(headerValue, limits: limits) else {
                return .failure(.notAnObject)
            }
            return .success(object)
        } catch {
            return .failure(.malformed(error))
        }
    }

    public static func parseClaimUpdates(_ headerValue: [UInt8]) -> Result<JSONObject, ClaimUpdateError> {
        headerValue.withUnsafeBytes { parseClaimUpdates($0) }
    }

    public static func parseClaimUpdates(_ headerValue: ArraySlice<UInt8>) -> Result<JSONObject, ClaimUpdateError> {
        headerValue.withUnsafeBytes { parseClaimUpdates($0) }
    }
}
