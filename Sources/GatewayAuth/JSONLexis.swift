/// The lexical rules both JSON readers share (`JSONParser`, which builds a
/// tree, and `ClaimsReader`, which reads a token's claims without one):
/// whitespace, literals, numbers, `\uXXXX` digits and UTF-8 sequences, written once so the two cannot drift apart
/// on what a valid number or escape is. Each works on the reader's input and
/// position and reports a failure at the offset where it went wrong.
enum JSONLexis {
    /// Scans the number at `position` (RFC 8259 §6: `-`? int frac? exp?,
    /// no leading zeros) and leaves `position` after it. Returns whether it
    /// is an integer literal (no fraction, no exponent).
    static func scanNumber(_ input: UnsafeRawBufferPointer,
                           _ position: inout Int) throws(JSONError) -> Bool {
        func fail() -> JSONError { JSONError(kind: .invalidNumber, offset: position) }
        var integral = true
        if input[position] == UInt8(ascii: "-") { position += 1 }
        guard position < input.count else { throw fail() }
        // int = zero / ( digit1-9 *DIGIT ): no leading zeros.
        if input[position] == UInt8(ascii: "0") {
            position += 1
            if position < input.count, isDigit(input[position]) { throw fail() }
        } else if isDigit(input[position]) {
            while position < input.count, isDigit(input[position]) { position += 1 }
        } else {
            throw fail()
        }
        if position < input.count, input[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < input.count, isDigit(input[position]) else { throw fail() }
            while position < input.count, isDigit(input[position]) { position += 1 }
        }
        if position < input.count, input[position] | 0x20 == UInt8(ascii: "e") {
            integral = false
            position += 1
            if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < input.count, isDigit(input[position]) else { throw fail() }
            while position < input.count, isDigit(input[position]) { position += 1 }
        }
        return integral
    }

    /// Exact Int64 of an integer literal `scanNumber` accepted, or nil on
    /// overflow (then the number must be a finite Double).
    static func int64(_ text: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        var value: Int64 = 0
        while i < text.count {
            let digit = Int64(text[i] - UInt8(ascii: "0"))
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = a
            i += 1
        }
        return value
    }

    /// The four hex digits of a `\u` escape at `position`, which ends after them.
    static func hex4(_ input: UnsafeRawBufferPointer, _ position: inout Int) throws(JSONError) -> UInt32 {
        guard position + 4 <= input.count else { throw JSONError(kind: .unexpectedEnd, offset: position) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = input[position]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONError(kind: .invalidEscape, offset: position)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// The length of the multi-byte UTF-8 sequence at `position`, checked
    /// (RFC 3629 §4: no overlong forms, no surrogates, nothing above
    /// U+10FFFF); `position` does not move.
    static func utf8Sequence(_ input: UnsafeRawBufferPointer, at position: Int) throws(JSONError) -> Int {
        func fail() -> JSONError { JSONError(kind: .invalidUTF8, offset: position) }
        let b0 = input[position]
        let length: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: throw fail()
        }
        guard position + length <= input.count else { throw fail() }
        let b1 = input[position + 1]
        guard b1 >= lower && b1 <= upper else { throw fail() }
        for i in 2..<max(2, length) {
            let b = input[position + i]
            guard b >= 0x80 && b <= 0xBF else { throw fail() }
        }
        return length
    }

    /// Skips JSON whitespace (space, tab, LF, CR: nothing else).
    static func skipWhitespace(_ input: UnsafeRawBufferPointer, _ position: inout Int) {
        while position < input.count {
            switch input[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// `true`, `false` or `null` at `position`, byte for byte.
    static func expectLiteral(_ word: StaticString, _ input: UnsafeRawBufferPointer,
                              _ position: inout Int) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= input.count else { throw JSONError(kind: .unexpectedEnd, offset: position) }
        let p = word.utf8Start
        for i in 0..<n where input[position + i] != p[i] { throw JSONError(kind: .unexpectedByte, offset: position) }
        position += n
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
