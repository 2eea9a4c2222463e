import Testing
@testable import GatewayCore

/// LogEscaping: JSON string escaping with UTF-8 repair, integer writers.
@Suite struct AccessLogEscapingTests {
    func escaped(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        LogEscaping.appendJSONEscaped(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static let fffd = "\u{FFFD}"

    @Test func asciiEscapes() {
        #expect(escaped(Array("a\"b\\c/d".utf8)) == #"a\"b\\c/d"#)
        #expect(escaped([0x0A, 0x0D, 0x09, 0x00, 0x1F, 0x7F, 0x08]) == #"\n\r\t\u0000\u001f\u007f\u0008"#)
    }

    @Test func wellFormedUTF8PassesThrough() {
        let s = "é€𝄞日本"
        #expect(escaped(Array(s.utf8)) == s)
        #expect(escaped([0xF4, 0x8F, 0xBF, 0xBF]) == "\u{10FFFF}")
    }

    @Test(arguments: [
        ([0xFF] as [UInt8], 1),                 // never a lead byte
        ([0x80], 1),                            // lone continuation
        ([0xC0, 0xAF], 2),                      // C0 never valid: each byte replaced
        ([0xE0, 0x80, 0xAF], 3),                // overlong 3-byte: E0 then two strays
        ([0xED, 0xA0, 0x80], 3),                // surrogate D800
        ([0xF4, 0x90, 0x80, 0x80], 4),          // past U+10FFFF
        ([0xE2, 0x82], 1),                      // truncated at end: one maximal subpart
        ([0xF0, 0x9F, 0x98], 1),                // truncated 4-byte
        ([0xE2, 0x28, 0xA1], 2),                // bad 2nd byte: E2 replaced, "(" kept, A1 replaced
    ])
    func illFormedReplaced(bytes: [UInt8], replacements: Int) {
        let s = escaped(bytes)
        #expect(s.unicodeScalars.filter { $0 == "\u{FFFD}" }.count == replacements)
        #expect(s.utf8.allSatisfy { $0 != 0xFF && $0 != 0xC0 })
    }

    @Test func mixedKeepsGoodBytes() {
        #expect(escaped([0x61, 0xE2, 0x82, 0x62, 0xE2, 0x82, 0xAC]) == "a\(Self.fffd)b€")
    }

    @Test func nonContiguousCollection() {
        let lazy = [UInt8]("x\"y".utf8).lazy.map { $0 }
        var out: [UInt8] = []
        LogEscaping.appendJSONEscaped(lazy, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"x\"y"#)
    }

    @Test(arguments: [UInt64(0), 7, 10, 99, 100, 1_234_567, UInt64.max])
    func decimals(v: UInt64) {
        var out: [UInt8] = []
        LogEscaping.appendDecimal(v, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(v))
    }

    @Test func signedAndPadded() {
        var out: [UInt8] = []
        LogEscaping.appendDecimal(Int64.min, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(Int64.min))
        out = []
        LogEscaping.appendPadded(7, width: 3, into: &out)
        LogEscaping.appendPadded(2024, width: 4, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "0072024")
    }
}
