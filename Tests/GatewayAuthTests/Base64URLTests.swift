import Testing
@testable import GatewayAuth

@Suite struct Base64URLTests {
    // RFC 4648 §10 vectors in the URL alphabet without padding.
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) throws {
        #expect(Base64URL.encodeToString(Array(plain.utf8)) == encoded)
        #expect(try #require(Base64URL.decode(encoded)) == Array(plain.utf8))
    }

    @Test func urlAlphabet() throws {
        #expect(Base64URL.encodeToString([0xFB, 0xFF, 0xFE]) == "-__-")
        #expect(try #require(Base64URL.decode("-__-")) == [0xFB, 0xFF, 0xFE])
    }

    @Test(arguments: [
        "Zg==",      // padding
        "Zm9v+g",    // standard alphabet '+'
        "Zm9v/g",    // standard alphabet '/'
        "Zm9vY",     // length remainder 1
        "Zh",        // non-zero unused bits (canonical is "Zg")
        "Zm9",       // fine? no: "Zm9" has unused bits 0b01 -> refused
        "Zm 9v",     // whitespace
        "Zm9v\n",    // newline
        "Zm9v.",     // dot
        "Zm9vYmFy=", // padding after full group
    ])
    func refusesNonCanonical(_ input: String) {
        #expect(Base64URL.decode(input) == nil)
    }

    @Test func refusesHighBytes() {
        #expect(Base64URL.decode([0x5A, 0xC3, 0xA9, 0x41]) == nil)
    }

    @Test func roundTripsAllLengths() throws {
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let encoded = Base64URL.encode(bytes)
            #expect(encoded.count == (n * 4 + 2) / 3)
            #expect(try #require(Base64URL.decode(encoded)) == bytes)
        }
    }

    func decodeInto(_ input: [UInt8], capacity: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0xEE, count: capacity)
        let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { Base64URL.decode(i, into: $0) } }
        return n.map { Array(out[0..<$0]) }
    }

    @Test func decodeIntoScratchAgreesWithDecode() throws {
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 5) }
            let encoded = Base64URL.encode(bytes)
            #expect(decodeInto(encoded, capacity: 100) == bytes)
            // Exactly the decoded size is enough; one byte less is refused.
            #expect(decodeInto(encoded, capacity: n) == bytes)
            if n > 0 { #expect(decodeInto(encoded, capacity: n - 1) == nil) }
        }
        for bad in ["Zg==", "Zm9v+g", "Zm9vY", "Zh", "Zm9", "Zm 9v", "Zm9v."] {
            #expect(decodeInto(Array(bad.utf8), capacity: 16) == nil)
            #expect(Base64URL.decode(bad) == nil)
        }
        #expect(decodeInto([0x5A, 0xC3, 0xA9, 0x41], capacity: 16) == nil)
    }

    @Test func decodedCount() {
        #expect(Base64URL.decodedCount(0) == 0)
        #expect(Base64URL.decodedCount(1) == nil)
        #expect(Base64URL.decodedCount(2) == 1)
        #expect(Base64URL.decodedCount(3) == 2)
        #expect(Base64URL.decodedCount(4) == 3)
    }
}
