public import GatewayCore

/// What `gateway token mint` and `gateway token inspect` do (SPEC §2), kept
/// here so the command line only parses arguments and prints.
public enum DevelopmentToken {
    public enum MintError: Error, CustomStringConvertible {
        case noSigningKey(String)
        case badClaim(String)
        case reservedClaim(String)
        case signing(String)

        public var description: String {
            switch self {
            case .noSigningKey(let why): return why
            case .badClaim(let c): return "--claim \(c): expected NAME=VALUE"
            case .reservedClaim(let c): return "--claim \(c): set by mint itself"
            case .signing(let why): return "signing failed: \(why)"
            }
        }
    }

    /// Claims every minted token gets from mint itself.
    static let reserved: Set<String> = ["iss", "aud", "sub", "iat", "exp", "auth_time", "jti"]

    /// A token for `sub`: iss and aud the first of `issuers`/`audiences`, iat
    /// and auth_time `now`, exp `now + ttl`, a random jti, plus `claims`
    /// (`NAME=VALUE`; VALUE is taken as JSON when it parses, else as a string).
    /// Signed with `kid`, or with `refresh.signing_key` when kid is nil.
    public static func mint(config: GatewayConfig, keys: KeySet, sub: String, ttlSeconds: Int64,
                            kid: String?, claims: [String], now: Int64) throws(MintError) -> String {
        guard let keyID = kid ?? config.refresh.signingKey else {
            throw .noSigningKey("no key to sign with: give --kid or set refresh.signing_key")
        }
        guard let key = keys.signingKey(kid: keyID) else {
            throw .noSigningKey("key \(keyID) cannot sign (it needs private_key_file, secret_file or secret_env)")
        }
        var object = JSONObject()
        if let iss = config.tokens.issuers.first { object["iss"] = .string(iss) }
        object["sub"] = .string(sub)
        if let aud = config.tokens.audiences.first { object["aud"] = .string(aud) }
        object["iat"] = .int(now)
        object["auth_time"] = .int(now)
        object["exp"] = .int(now + ttlSeconds)
        let jti: [UInt8]
        do { jti = try SecureRandom.bytes(16) } catch { throw .signing(error.description) }
        object["jti"] = .string(Base64URL.encodeToString(jti))
        for c in claims {
            guard let eq = c.firstIndex(of: "="), eq != c.startIndex else { throw .badClaim(c) }
            let name = String(c[..<eq])
            let text = String(c[c.index(after: eq)...])
            guard !reserved.contains(name) else { throw .reservedClaim(name) }
            object[name] = (try? JSONParser.parse(text)) ?? .string(text)
        }
        do {
            return try TokenSigner(key: key).signToString(claims: object)
        } catch {
            throw .signing(error.description)
        }
    }

    /// Header and claims of a compact JWS, decoded without verifying, for
    /// display. Nil when it is not a JWS with JSON header and claims.
    public static func decodeUnverified(_ token: String) -> (header: JSONObject, claims: JSONObject)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let h = Base64URL.decode(Array(parts[0].utf8)), let p = Base64URL.decode(Array(parts[1].utf8)),
              case .object(let header)? = try? JSONParser.parse(h),
              case .object(let claims)? = try? JSONParser.parse(p) else { return nil }
        return (header, claims)
    }

    /// Pretty text for a JSON object, one member per line, for `inspect`.
    public static func render(_ object: JSONObject) -> String {
        var lines = ["{"]
        for (i, m) in object.members.enumerated() {
            let value = String(decoding: JSONSerializer.serialize(m.value), as: UTF8.self)
            let key = String(decoding: JSONSerializer.serialize(.string(m.key)), as: UTF8.self)
            lines.append("  \(key): \(value)" + (i + 1 < object.count ? "," : ""))
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
