/// Why key material was refused. Stable cases; `description` is the message
/// shown after `file:line:` (see `KeyLoadError`).
public enum KeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownAlgorithm(String)
    case missingAlgorithm
    /// RSA modulus under 2048 bits (RFC 7518 §3.3, §3.5).
    case rsaKeyTooSmall(bits: Int)
    /// HMAC secret shorter than the minimum for its algorithm.
    case hmacSecretTooShort(bytes: Int, minimum: Int)
    /// The material is not a key for this algorithm (wrong type or curve).
    case keyDoesNotFitAlgorithm(algorithm: String, key: String)
    /// A private key was needed (signing) but only a public one was given.
    case notASigningKey
    case badKeyMaterial(String)
    case unreadable(path: String, reason: String)
    case missingEnvironment(String)
    case duplicateKeyID(String)
    case missingKeyID
    case badJWKS(String)
    case noUsableKeys
    /// A `kty: "oct"` JWK (kid given) in a set fetched from a URL.
    case hmacKeyFromURL(String)

    public var description: String {
        switch self {
        case .unknownAlgorithm(let a): return "unknown algorithm \"\(a)\""
        case .missingAlgorithm: return "alg is required for this key source"
        case .rsaKeyTooSmall(let bits): return "RSA key of \(bits) bits is too small (minimum 2048)"
        case .hmacSecretTooShort(let n, let min): return "HMAC secret of \(n) bytes is too short (minimum \(min))"
        case .keyDoesNotFitAlgorithm(let alg, let key): return "a \(key) key cannot be used with \(alg)"
        case .notASigningKey: return "key has no private part and cannot sign"
        case .badKeyMaterial(let why): return "bad key material: \(why)"
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .missingEnvironment(let name): return "environment variable \(name) is not set or empty"
        case .duplicateKeyID(let kid): return "duplicate kid \"\(kid)\""
        case .missingKeyID: return "JWK has no kid"
        case .badJWKS(let why): return "bad JWK set: \(why)"
        case .noUsableKeys: return "JWK set has no usable key"
        case .hmacKeyFromURL(let kid):
            return "JWK \"\(kid)\" is an HMAC (kty oct) key; a published key set is public, so HMAC keys are taken only from jwks_file, secret_file or secret_env"
        }
    }
}

/// A `KeyError` tied to the `[[keys]]` entry it came from, so the caller can
/// print `file:line: message`.
public struct KeyLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var error: KeyError
    public init(line: Int, error: KeyError) { self.line = line; self.error = error }
    public var description: String { error.description }
}

/// A JWK that was skipped while the rest of its set loaded (SPEC §3: refused
/// JWKs are logged, the set still serves).
public struct KeyLoadWarning: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    /// File path or URL of the set.
    public var source: String
    public var message: String
    public init(line: Int, source: String, message: String) {
        self.line = line; self.source = source; self.message = message
    }
    public var description: String { "\(source): \(message)" }
}
