import GatewayCore

/// The request phase that decides who gets in (SPEC §5). Runs after routing
/// and before anything is sent upstream; a rejection is answered here.
///
/// Token verification arrives with GatewayAuth; until then a route that
/// needs a token can only say so (401 `missing_token`), and a token on an
/// optional route cannot be checked, so it is refused rather than trusted.
struct AuthPhase {
    enum Decision {
        /// `label` is the access-log `auth` value.
        case pass(label: AuthResultLabel)
        case reject(status: Int, error: String, description: String, label: AuthResultLabel)
    }

    static func decide(head: HTTPHead, route: RouteConfig) -> Decision {
        if route.auth == .none { return .pass(label: .none) }
        let hasToken = head.fields.contains { $0.known == .authorization }
        if !hasToken {
            if route.auth == .optional { return .pass(label: .none) }
            return .reject(status: 401, error: "missing_token", description: "no bearer token", label: .missing)
        }
        return .reject(status: 401, error: "invalid_token", description: "token verification unavailable", label: .invalid)
    }

    /// RFC 6750 §3 header value for a rejection.
    static func wwwAuthenticate(error: String, description: String) -> String {
        if error == "missing_token" { return "Bearer realm=\"gateway\"" }
        return "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"\(description)\""
    }
}
