import Testing
@testable import GatewayCore

@Suite struct HTTPSyntaxScanTests {
    /// The eight-at-a-time LF scan agrees with a byte loop on every start
    /// offset of inputs with LFs at every position, next to 0x0B and 0x8A
    /// (the bytes a wrong SWAR mask would confuse with LF), and with none.
    @Test func firstLFMatchesAByteLoop() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x0A, 0x0B, 0x09, 0x8A, 0x00, 0xFF, 0x41, 0x0D]
        for length in 0..<40 {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
                bytes.withUnsafeBytes { raw in
                    for start in 0...length {
                        var expected = start
                        while expected < length && bytes[expected] != 0x0A { expected += 1 }
                        #expect(HTTPSyntax.firstLF(raw, from: start) == expected, "\(bytes) from \(start)")
                    }
                }
            }
        }
    }
}

extension HTTPSyntaxScanTests {
    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    /// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2), for
    /// every byte value.
    @Test func tcharMatchesTheGrammar() {
        let specials = Set("!#$%&'*+-.^_`|~".utf8)
        for b in 0...255 {
            let byte = UInt8(b)
            let expected = (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
                || specials.contains(byte)
            #expect(HTTPSyntax.isTchar(byte) == expected, "byte \(b)")
        }
    }
}
