import GatewayCore

/// The answers the gateway gives itself: a status and a small JSON body,
/// `{"error":"...","error_description":"..."}`. Error codes and
/// descriptions are our own constants, never request bytes.
enum LocalAnswer {
    static func write(status: Int, error: String, description: String?, headers: [(String, String)],
                      keepAlive: Bool, into out: inout [UInt8]) {
        var body = "{\"error\":\"\(error)\""
        if let description { body += ",\"error_description\":\"\(description)\"" }
        body += "}\n"
        var hs = headers
        hs.append(("Content-Type", "application/json"))
        HeadWriter.writeSimpleResponse(status: status, reason: HeadWriter.reasonPhrase(for: status), headers: hs,
                                       body: Array(body.utf8), keepAlive: keepAlive, into: &out)
    }
}
