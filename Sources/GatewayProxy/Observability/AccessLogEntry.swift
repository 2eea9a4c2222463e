import GatewayCore

/// What the request path hands to the access log at the end of an exchange.
/// The log formatter sees the target, never a header: tokens cannot leak.
struct AccessLogEntry {
    var startMs: Int64
    var client: [UInt8]
    var head: HTTPHead
    var route: String
    var status: Int
    var upstream: String
    var durationMs: Int64
    var bytesIn: UInt64
    var bytesOut: UInt64
    var auth: String
    var requestID: [UInt8]
}

enum UpstreamErrorKind: Int {
    case connect, timeout, reset, protocolError
}
