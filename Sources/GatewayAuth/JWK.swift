/// Public keys from JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037 §2).
enum JWK {
    /// A verification key from one JWK object. `alg` comes from the JWK, or
    /// `defaultAlgorithm` when the JWK has none; a JWK whose alg does not fit
    /// its key type or curve is refused. Private members (`d`, ...) are
    /// ignored: a JWK set only ever provides public keys here.
    ///
    /// `allowHMAC` is false for a set fetched from a URL: a published set is
    /// public, and a public HMAC secret lets anyone sign (SPEC §5), so
    /// `kty: "oct"` is refused there and taken only from local files.
    static func verificationKey(_ jwk: JSONObject, defaultAlgorithm: JWSAlgorithm?, allowHMAC: Bool,
                                source: String) throws(KeyError) -> VerificationKey {
        guard case .string(let kid)? = jwk["kid"], !kid.isEmpty else { throw KeyError.missingKeyID }
        guard case .string(let kty)? = jwk["kty"] else { throw KeyError.badJWKS("JWK \"\(kid)\" has no kty") }
        let algorithm: JWSAlgorithm
        switch jwk["alg"] {
        case .string(let name)?:
            guard let a = JWSAlgorithm(name: name) else { throw KeyError.unknownAlgorithm(name) }
            algorithm = a
        case nil:
            guard let a = defaultAlgorithm else { throw KeyError.missingAlgorithm }
            algorithm = a
        default:
            throw KeyError.badJWKS("JWK \"\(kid)\" alg is not a string")
        }
        if case .string(let use)? = jwk["use"], use != "sig" {
            throw KeyError.badJWKS("JWK \"\(kid)\" is for use \"\(use)\", not sig")
        }
        let material: VerificationKey.Material
        switch kty {
        case "oct":
            guard allowHMAC else { throw KeyError.hmacKeyFromURL(kid) }
            material = try VerificationKey.makeHMAC(secret: try member(jwk, "k", kid), algorithm: algorithm)
        case "RSA":
            let n = try member(jwk, "n", kid), e = try member(jwk, "e", kid)
            material = .asymmetric(try build { () throws(OpenSSLError) in try EVPKey.rsa(modulus: n, exponent: e) })
        case "EC":
            guard case .string(let crv)? = jwk["crv"], let curve = EllipticCurve(rawValue: crv) else {
                throw KeyError.badJWKS("JWK \"\(kid)\" has an unsupported crv")
            }
            let x = try member(jwk, "x", kid), y = try member(jwk, "y", kid)
            material = .asymmetric(try build { () throws(OpenSSLError) in try EVPKey.ec(curve: curve, x: x, y: y) })
        case "OKP":
            guard case .string(let crv)? = jwk["crv"], crv == "Ed25519" else {
                throw KeyError.badJWKS("JWK \"\(kid)\" has an unsupported OKP crv")
            }
            let x = try member(jwk, "x", kid)
            material = .asymmetric(try build { () throws(OpenSSLError) in try EVPKey.ed25519(publicKey: x) })
        default:
            throw KeyError.badJWKS("JWK \"\(kid)\" has unsupported kty \"\(kty)\"")
        }
        return try VerificationKey(kid: kid, algorithm: algorithm, material: material, source: source)
    }

    private static func member(_ jwk: JSONObject, _ name: String, _ kid: String) throws(KeyError) -> [UInt8] {
        guard case .string(let text)? = jwk[name], let bytes = Base64URL.decode(text), !bytes.isEmpty else {
            throw KeyError.badJWKS("JWK \"\(kid)\" member \(name) is missing or not base64url")
        }
        return bytes
    }

    private static func build(_ body: () throws(OpenSSLError) -> EVPKey) throws(KeyError) -> EVPKey {
        do { return try body() } catch { throw KeyError.badKeyMaterial(error.description) }
    }
}
