import GatewayAuth
import GatewayCore

/// One request to the admin listener, as the handlers see it: the body is
/// complete and bounded (`AdminConnection.maxBodyBytes`) before a handler runs.
struct AdminRequest {
    var method: String
    var path: String
    var authorization: [UInt8]?
    var body: [UInt8] = []

    /// The body as a JSON object (the admin API's request format), with the
    /// same strict parser tokens go through; nil when it is not one.
    func jsonObject() -> JSONObject? {
        guard let value = try? JSONParser.parse(body, limits: .adminBody) else { return nil }
        return value.objectValue
    }
}

/// An admin answer: status, content type, body and extra fields.
struct AdminAnswer {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []

    /// `{"error":"code"}`: the codes are our own constants, never request bytes.
    static func error(_ status: Int, _ code: String, headers: [(String, String)] = []) -> AdminAnswer {
        AdminAnswer(status: status, contentType: "application/json", body: Array("{\"error\":\"\(code)\"}\n".utf8),
                    headers: headers)
    }

    static func json(_ status: Int, _ object: JSONObject) -> AdminAnswer {
        var body = JSONSerializer.serialize(object)
        body.append(0x0A)
        return AdminAnswer(status: status, contentType: "application/json", body: body)
    }
}

extension JSONParser.Limits {
    /// Admin API bodies: as large as the listener admits, shallow.
    static let adminBody = JSONParser.Limits(maxBytes: AdminConnection.maxBodyBytes, maxDepth: 8)
}
