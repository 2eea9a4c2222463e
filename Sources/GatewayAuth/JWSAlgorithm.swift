/// The JWS algorithms the gateway accepts (RFC 7518 §3, RFC 8037 §3.1).
/// `none` is deliberately absent. Every key is bound to exactly one of these.
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case edDSA = "EdDSA"

    public enum Family: Sendable, Equatable {
        case hmac
        case rsaPKCS1
        case rsaPSS
        case ecdsa(EllipticCurve)
        case edDSA
    }

    /// Exact, case-sensitive match (RFC 7515 §4.1.1: alg values are case-sensitive).
    public init?(name: String) { self.init(rawValue: name) }

    public var name: String { rawValue }

    public var family: Family {
        switch self {
        case .hs256, .hs384, .hs512: return .hmac
        case .rs256, .rs384, .rs512: return .rsaPKCS1
        case .ps256, .ps384, .ps512: return .rsaPSS
        case .es256: return .ecdsa(.p256)
        case .es384: return .ecdsa(.p384)
        case .es512: return .ecdsa(.p521)
        case .edDSA: return .edDSA
        }
    }

    /// The SHA-2 digest the algorithm uses; nil for EdDSA (RFC 8032 hashes
    /// internally).
    var digest: MessageDigest? {
        switch self {
        case .hs256, .rs256, .ps256, .es256: return .sha256
        case .hs384, .rs384, .ps384, .es384: return .sha384
        case .hs512, .rs512, .ps512, .es512: return .sha512
        case .edDSA: return nil
        }
    }

    /// Digest length in bytes (32/48/64); 64 for EdDSA (SHA-512 inside Ed25519).
    public var hashLength: Int { digest?.size ?? 64 }

    /// Whether signatures come out the same for the same input. Every
    /// algorithm here is made deterministic by `SigningKey` (RFC 6979 ECDSA,
    /// derived PSS salt), so this is always true; kept for callers that cache.
    public var isDeterministic: Bool { true }
}
