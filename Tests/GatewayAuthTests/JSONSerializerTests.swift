import Testing
@testable import GatewayAuth

@Suite struct JSONSerializerTests {
    @Test func keepsInsertionOrderAndIsCompact() {
        var object = JSONObject()
        object["z"] = .int(1)
        object["a"] = .array([.bool(true), .null, .double(1.5), .string("x")])
        object["m"] = .object(JSONObject(["k": .int(-3)]))
        object["z"] = .int(2)  // replaced in place
        #expect(JSONSerializer.serialize(object).text == #"{"z":2,"a":[true,null,1.5,"x"],"m":{"k":-3}}"#)
    }

    @Test func escapes() {
        let s = JSONSerializer.serialize(.string("q\"b\\n\n\u{1}é"))
        #expect(s.text == "\"q\\\"b\\\\n\\n\\u0001é\"")
    }

    @Test func roundTrips() throws {
        let text = #"{"iss":"joe","exp":1300819380,"x":[1,2.25,{"a":"\u0000"}],"t":false}"#
        let value = try JSONParser.parse(text)
        let again = try JSONParser.parse(JSONSerializer.serialize(value))
        #expect(again == value)
        #expect(JSONSerializer.serialize(again) == JSONSerializer.serialize(value))
    }
}
