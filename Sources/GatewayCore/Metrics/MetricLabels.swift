/// The `auth` field of an access log line and the `result` label of
/// `gateway_auth_results_total` (SPEC §2, §8). One value per request.
public enum AuthResultLabel: Int, CaseIterable, Sendable {
    /// Route with `auth = "none"`, or an optional route without a token.
    case none
    case ok
    case missing
    case invalid
    case expired
    case revoked
    /// Valid token, missing scope (403).
    case forbidden
    /// Valid token, and a refreshed one was added to the response.
    case refreshed

    public var label: String {
        switch self {
        case .none: return "none"
        case .ok: return "ok"
        case .missing: return "missing"
        case .invalid: return "invalid"
        case .expired: return "expired"
        case .revoked: return "revoked"
        case .forbidden: return "forbidden"
        case .refreshed: return "refreshed"
        }
    }
}

/// The `outcome` label of `gateway_refreshes_total`: what a transparent
/// refresh attempt (SPEC §6) came to.
public enum RefreshOutcomeLabel: Int, CaseIterable, Sendable {
    case issued
    /// Reissued because of `Gateway-Update-Claims`.
    case claimsUpdated
    /// Not reissued: past `auth_time + max_session`.
    case cappedAge
    /// Not reissued: `rfc` reached `max_refreshes`.
    case cappedCount
    /// Signing or encoding failed; the response went out without a new token.
    case error

    public var label: String {
        switch self {
        case .issued: return "issued"
        case .claimsUpdated: return "claims_updated"
        case .cappedAge: return "capped_age"
        case .cappedCount: return "capped_count"
        case .error: return "error"
        }
    }
}

/// The `kind` label of `gateway_upstream_errors_total` (SPEC §4.6).
public enum UpstreamErrorKind: Int, CaseIterable, Sendable {
    /// Connect refused or failed (502).
    case connect
    /// No response head within `response_timeout` (504), or connect timeout.
    case timeout
    /// The upstream closed or reset the connection mid-exchange.
    case reset
    /// The upstream's response could not be parsed.
    case `protocol`

    public var label: String {
        switch self {
        case .connect: return "connect"
        case .timeout: return "timeout"
        case .reset: return "reset"
        case .protocol: return "protocol"
        }
    }
}
