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

/// The `kind` label of `gateway_timeouts_total`: which clock ended a
/// connection (SPEC §4.5-4.6). An idle keep-alive connection closed by
/// `client_timeout` is routine and not counted.
public enum TimeoutKindLabel: Int, CaseIterable, Sendable {
    /// A request head did not arrive within `client_timeout` (408).
    case requestHead
    /// The client stopped sending its request body for `client_timeout`.
    case requestBody
    /// The client read nothing of our output for `send_timeout`.
    case send
    /// The upstream did not accept the connection within `connect_timeout`.
    case upstreamConnect
    /// No response head within `response_timeout` (504).
    case upstreamResponse
    /// The upstream sent nothing of its body for `read_timeout`.
    case upstreamRead
    /// A tunnel carried no byte either way for `tunnel_idle_timeout`.
    case tunnelIdle

    public var label: String {
        switch self {
        case .requestHead: return "request_head"
        case .requestBody: return "request_body"
        case .send: return "send"
        case .upstreamConnect: return "upstream_connect"
        case .upstreamResponse: return "upstream_response"
        case .upstreamRead: return "upstream_read"
        case .tunnelIdle: return "tunnel_idle"
        }
    }
}
