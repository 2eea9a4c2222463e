import GatewayCore

/// What the request path hands to the access log at the end of an exchange.
/// The log formatter sees the target, never a header: tokens cannot leak.
struct AccessLogEntry {
    var startUs: Int64
    var client: String
    var head: HTTPHead
    var route: String
    var status: Int
    var upstream: String
    var durationUs: Int64
    var bytesIn: UInt64
    var bytesOut: UInt64
    var auth: AuthResultLabel
    var sub: String?
    var requestID: [UInt8]
}
