/// Why a request was not authenticated (SPEC §5). Each case maps to one
/// HTTP answer (RFC 6750 §3) and one metric label. Messages are short and
/// never contain the token or any of its content.
public enum AuthFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case missingToken
    /// Not a well-formed JWS/JWT; the string is a fixed, safe reason.
    case malformed(String)
    /// The token's alg is not the alg its key is bound to (or is unknown).
    case algorithmMismatch
    case unknownKeyID
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    /// The token lacks one of the route's scopes; carries every scope the
    /// route requires (RFC 6750 §3 `scope=`).
    case insufficientScope([String])
    case revoked

    /// The RFC 6750 / SPEC §5 `error` value.
    public var errorCode: String {
        switch self {
        case .missingToken: return "missing_token"
        case .expired: return "token_expired"
        case .revoked: return "token_revoked"
        case .insufficientScope: return "insufficient_scope"
        default: return "invalid_token"
        }
    }

    public var httpStatus: Int {
        if case .insufficientScope = self { return 403 }
        return 401
    }

    /// Safe for `error_description` and logs.
    public var description: String {
        switch self {
        case .missingToken: return "no token"
        case .malformed(let why): return "malformed token: \(why)"
        case .algorithmMismatch: return "token algorithm does not match its key"
        case .unknownKeyID: return "unknown key id"
        case .badSignature: return "bad signature"
        case .expired: return "token expired"
        case .notYetValid: return "token not yet valid"
        case .wrongIssuer: return "issuer not accepted"
        case .wrongAudience: return "audience not accepted"
        case .insufficientScope: return "insufficient scope"
        case .revoked: return "token revoked"
        }
    }

    /// The `auth` value of the access log (SPEC §2).
    public var logLabel: String {
        switch self {
        case .missingToken: return "missing"
        case .expired: return "expired"
        case .revoked: return "revoked"
        case .insufficientScope: return "forbidden"
        default: return "invalid"
        }
    }

    /// The fine-grained reason for `gateway_auth_results_total{result}`;
    /// one stable label per case.
    public var metricLabel: String {
        switch self {
        case .missingToken: return "missing"
        case .malformed: return "malformed"
        case .algorithmMismatch: return "algorithm_mismatch"
        case .unknownKeyID: return "unknown_kid"
        case .badSignature: return "bad_signature"
        case .expired: return "expired"
        case .notYetValid: return "not_yet_valid"
        case .wrongIssuer: return "wrong_issuer"
        case .wrongAudience: return "wrong_audience"
        case .insufficientScope: return "insufficient_scope"
        case .revoked: return "revoked"
        }
    }

    /// Every label `metricLabel` can return, for declaring counters up front.
    public static let allMetricLabels = [
        "missing", "malformed", "algorithm_mismatch", "unknown_kid", "bad_signature", "expired",
        "not_yet_valid", "wrong_issuer", "wrong_audience", "insufficient_scope", "revoked",
    ]

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    public var wwwAuthenticate: String {
        switch self {
        case .missingToken:
            return "Bearer realm=\"gateway\""
        case .insufficientScope(let scopes):
            return "Bearer realm=\"gateway\", error=\"insufficient_scope\", scope=\"\(scopes.joined(separator: " "))\""
        default:
            return "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"\(description)\""
        }
    }

    /// True for `.malformed` with any reason (tests and metrics compare cases).
    public var isMalformed: Bool {
        if case .malformed = self { return true }
        return false
    }
}
