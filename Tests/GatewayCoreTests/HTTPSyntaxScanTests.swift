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

extension HTTPSyntaxScanTests {
    /// The eight-at-a-time field-value tests agree with their byte rules on
    /// words made of the bytes around every boundary they draw (0x1F/0x20/
    /// 0x21, 0x7E/0x7F/0x80, HTAB, 0xFF), and on every single-byte change of
    /// a clean word.
    @Test func fieldValueWordTestsMatchTheByteRules() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0x09, 0xFF, 0x00, 0x41, 0x20, 0x20]
        func word(_ b: [UInt8]) -> UInt64 { b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) } }
        func check(_ b: [UInt8]) {
            let x = word(b)
            #expect(HTTPSyntax.allPrintableASCII(x) == b.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "\(b)")
            #expect(HTTPSyntax.lastNonSpace(x) == b.lastIndex(where: { $0 != 0x20 }), "\(b)")
        }
        for _ in 0..<20_000 { check((0..<8).map { _ in alphabet.randomElement(using: &rng)! }) }
        let clean = Array("Aa0 ~!z ".utf8)
        for i in 0..<8 {
            for v in 0...255 {
                var b = clean
                b[i] = UInt8(v)
                check(b)
            }
        }
    }
}

extension HTTPSyntaxScanTests {
    /// The word-at-a-time token comparison agrees with the exact lowercase
    /// comparison on every token that differs from a known field name in one
    /// byte (any tchar), in any letter case, for names shorter and longer
    /// than a word.
    @Test func tokenEqualsMatchesTheExactComparison() {
        let tchars = (0...255).map(UInt8.init).filter(HTTPSyntax.isTchar)
        let names: [StaticString] = ["te", "host", "expect", "trailer", "connection", "x-request-id",
                                     "content-length", "transfer-encoding", "access-control-expose-headers"]
        var rng = SystemRandomNumberGenerator()
        for literal in names {
            let lit = literal.withUTF8Buffer { Array($0) }
            for i in lit.indices {
                for c in tchars {
                    var candidate = lit.map { Bool.random(using: &rng) ? HTTPSyntax.lower($0) ^ ($0 >= 0x61 && $0 <= 0x7A ? 0x20 : 0) : $0 }
                    candidate[i] = c
                    let exact = candidate.map(HTTPSyntax.lower) == lit
                    let fast = candidate.withUnsafeBytes { HTTPSyntax.tokenEquals($0, 0..<candidate.count, literal) }
                    #expect(fast == exact, "\(String(decoding: candidate, as: UTF8.self)) vs \(literal)")
                }
            }
            // The name itself in upper case matches; one byte shorter does not.
            let upper = lit.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
            #expect(upper.withUnsafeBytes { HTTPSyntax.tokenEquals($0, 0..<upper.count, literal) })
            #expect(!upper.withUnsafeBytes { HTTPSyntax.tokenEquals($0, 0..<(upper.count - 1), literal) })
        }
    }
}
