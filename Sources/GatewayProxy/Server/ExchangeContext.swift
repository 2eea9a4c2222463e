import GatewayAuth
import GatewayCore

/// What the proxy's phases learn about one exchange beyond the HTTP facts
/// in `Exchange` (GatewayCore): the verified token, the upstream group and
/// server, the request id. Made fresh for every exchange, like `Exchange`.
struct ExchangeContext {
    /// The verified token, if any, and where it sits in the request head
    /// (the refresh phase reissues from those bytes).
    var token: VerifiedToken?
    var tokenRange: Range<Int>?
    /// The request's X-Request-Id, or the one the gateway made for it.
    var requestID = RequestIDSource.generated(0)
    var group: UpstreamGroup?
    /// The server that got the request, for the access log.
    var upstreamName = "-"
    /// A session endpoint (SPEC §7) answers this exchange; its body is
    /// collected here first.
    var localEndpoint: SessionPhase.Endpoint?
    var localBody: [UInt8] = []
}

enum RequestIDSource {
    /// The client's own X-Request-Id value (a range of the head's bytes):
    /// forwarded as it is.
    case received(Range<Int>)
    /// Ours, added to the upstream head.
    case generated(UInt64)

    var generated: UInt64? { if case .generated(let v) = self { return v } else { return nil } }

    /// For the access log (only built when logging is on).
    func bytes(in head: HTTPHead) -> [UInt8] {
        switch self {
        case .received(let r): return Array(head.bytes[r])
        case .generated(let v): return RequestIDText.hex(v)
        }
    }
}
