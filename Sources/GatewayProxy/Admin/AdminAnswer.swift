import GatewayAuth
import GatewayCore

/// One request to the admin listener, as the handlers see it: the body is
/// complete and bounded (`AdminConnection.maxBodyBytes`) before a handler runs.
struct AdminRequest {
    var method: String
    var path: String
    /// After the `?`, undecoded; empty when none.
    var query: String = ""
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
    static func error(_ status: Int, _ code: String, description: String? = nil,
                      headers: [(String, String)] = []) -> AdminAnswer {
        var object = JSONObject()
        object["error"] = .string(code)
        if let description { object["error_description"] = .string(description) }
        var answer = json(status, object)
        answer.headers = headers
        return answer
    }

    /// 204: no body.
    static let noContent = AdminAnswer(status: 204, contentType: "application/json", body: [])

    /// The value of `name` in an `a=1&b=2` query, percent-decoded; nil when
    /// absent or badly escaped.
    static func queryValue(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return FormDecoding.percentDecoded(Array(parts[1].utf8)).map { String(decoding: $0, as: UTF8.self) }
        }
        return nil
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
