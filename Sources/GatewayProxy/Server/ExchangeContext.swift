import GatewayAuth

/// What the proxy's phases learn about one exchange beyond the HTTP facts
/// in `Exchange` (GatewayCore): the verified token, the upstream group and
/// server, the request id. Made fresh for every exchange, like `Exchange`.
struct ExchangeContext {
    /// The verified token, if any, and where it sits in the request head
    /// (the refresh phase reissues from those bytes).
    var token: VerifiedToken?
    var tokenRange: Range<Int>?
    var requestID: [UInt8] = []
    var group: UpstreamGroup?
    /// The server that got the request, for the access log.
    var upstreamName = "-"

    init(requestID: [UInt8] = []) { self.requestID = requestID }
}
