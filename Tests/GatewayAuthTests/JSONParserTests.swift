import Testing
@testable import GatewayAuth

@Suite struct JSONParserTests {
    @Test func parsesAllTypes() throws {
        let value = try JSONParser.parse(#" { "a" : [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {} } "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true),
                                       .bool(false), .null, .string("x")]))
        #expect(object["b"] == .object(JSONObject()))
    }

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
        (#""\u00e9\u4e2d""#, "é中"),
        (#""\ud83d\ude00""#, "😀"),
        ("\"é😀\"", "é😀"),
    ])
    func strings(json: String, expected: String) throws {
        #expect(try JSONParser.parse(json) == .string(expected))
    }

    @Test func integersStayExact() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9223372036854775808))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("1.0") == .double(1))
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", JSONError.Kind.duplicateKey),
        ("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", .duplicateKey),
        ("{\"a\u{0}\":1}", .invalidString),
        ("\"tab\there\"", .invalidString),
        ("\"\\x\"", .invalidEscape),
        ("\"\\ud800\"", .invalidEscape),
        ("\"\\udc00\"", .invalidEscape),
        ("\"\\ud800\\u0041\"", .invalidEscape),
        ("01", .invalidNumber),
        ("+1", .unexpectedByte),
        ("1.", .invalidNumber),
        (".5", .unexpectedByte),
        ("1e", .invalidNumber),
        ("-", .invalidNumber),
        ("NaN", .unexpectedByte),
        ("Infinity", .unexpectedByte),
        ("1e400", .invalidNumber),
        ("{} x", .trailingData),
        ("{}{}", .trailingData),
        ("{\"a\":1,}", .unexpectedByte),
        ("[1,]", .unexpectedByte),
        ("{'a':1}", .unexpectedByte),
        ("{\"a\" 1}", .unexpectedByte),
        ("", .unexpectedEnd),
        ("[", .unexpectedEnd),
        ("tru", .unexpectedEnd),
        ("nul", .unexpectedEnd),
    ])
    func refuses(json: String, kind: JSONError.Kind) {
        #expect(throws: JSONError.self) { try JSONParser.parse(json) }
        do {
            _ = try JSONParser.parse(json)
        } catch {
            #expect(error.kind == kind)
        }
    }

    @Test(arguments: [
        [UInt8]([0x22, 0xC0, 0xAF, 0x22]),             // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],                 // UTF-8 surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],           // above U+10FFFF
        [0x22, 0xE2, 0x82, 0x22],                       // truncated
        [0x22, 0xFF, 0x22],                             // never valid
        [0x22, 0x80, 0x22],                             // lone continuation
    ])
    func refusesInvalidUTF8(_ bytes: [UInt8]) {
        #expect(throws: JSONError(kind: .invalidUTF8, offset: 1)) { try JSONParser.parse(bytes) }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 16) + String(repeating: "]", count: 16)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "[", count: 17) + String(repeating: "]", count: 17)
        #expect(throws: JSONError.self) { try JSONParser.parse(deep) }
        let veryDeep = String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: JSONError.self) { try JSONParser.parse(veryDeep, limits: .init(maxBytes: 1 << 20, maxDepth: 16)) }
    }

    @Test func sizeLimit() {
        let big = "\"" + String(repeating: "a", count: 9000) + "\""
        #expect(throws: JSONError(kind: .tooLarge, offset: 0)) { try JSONParser.parse(big) }
    }

    @Test func manyMembersStillDetectDuplicates() {
        var text = "{"
        for i in 0..<40 { text += "\"k\(i)\":\(i)," }
        text += "\"k3\":0}"
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }
}
