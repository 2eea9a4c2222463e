/// Reads a JWS header or JWT claim set straight from the decoded bytes,
/// making Swift values only for the top-level members asked for.
///
/// Why it exists: the verifier used to build a whole `JSONValue` tree per
/// token (a String per key and value, an array per object and array) only to
/// read a dozen claims. This reader validates the whole text with exactly
/// `JSONParser`'s rules and errors (same `JSONError` kind and offset): the
/// size and depth limits, duplicate member names at every level (compared as
/// Swift Strings, i.e. by canonical equivalence, as `JSONParser` does), the
/// string, escape, UTF-8 and number grammars, Double overflow, trailing data.
/// Only a wanted member's value is materialized, by `JSONParser` itself on
/// that value's bytes, so it is the very value the tree would have held.
/// Sources/ClaimsFuzz checks the two agree on every input.
public struct ClaimsReader {
    /// Member names to materialize, prepared once (per verifier, not per
    /// token): ASCII names are matched against raw key bytes without making
    /// a String.
    public struct Names: Sendable {
        public let names: [String]
        /// UTF-8 of each name when it is ASCII; nil for others (those are
        /// matched as Strings, since Swift equality is canonical equivalence).
        private let asciiBytes: [[UInt8]?]

        /// Duplicates are dropped; order is kept.
        public init(_ names: [String]) {
            var unique: [String] = []
            for n in names where !unique.contains(n) { unique.append(n) }
            self.names = unique
            asciiBytes = unique.map { n in n.utf8.allSatisfy { $0 < 0x80 } ? Array(n.utf8) : nil }
        }

        /// String equality, as the tree's subscript.
        public func contains(_ name: String) -> Bool { names.contains(name) }

        /// Whether a key is one of the names; `raw` is an ASCII key without
        /// escapes (its bytes are its text), `text` any other key.
        fileprivate func matches(_ key: Key, in input: UnsafeRawBufferPointer) -> Bool {
            for i in 0..<names.count {
                switch (key, asciiBytes[i]) {
                case (.raw(let range), let bytes?):
                    if bytes.count == range.count && Self.equal(bytes, input, range) { return true }
                case (.text(let s, _), _):
                    if s == names[i] { return true }
                case (.raw(let range), nil):
                    if String(decoding: UnsafeRawBufferPointer(rebasing: input[range]), as: UTF8.self) == names[i] { return true }
                }
            }
            return false
        }

        private static func equal(_ bytes: [UInt8], _ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
            var j = range.lowerBound
            for b in bytes {
                if input[j] != b { return false }
                j += 1
            }
            return true
        }
    }

    /// A member name seen in the current object, for the duplicate check.
    fileprivate enum Key {
        /// ASCII without escapes: the input bytes are the name.
        case raw(Range<Int>)
        /// Decoded (it had escapes or non-ASCII bytes).
        case text(String, ascii: Bool)
    }

    private let input: UnsafeRawBufferPointer
    private let limits: JSONParser.Limits
    private var position = 0
    private var depth = 0
    /// Names of the objects being read, innermost last (each object's own
    /// names from its base index on).
    private var keys: [Key] = []
    /// Past this many members an object's names go into a Set, so a crafted
    /// object cannot cost quadratic time (JSONParser does the same at 16).
    private static let linearMembers = 32

    private init(input: UnsafeRawBufferPointer, limits: JSONParser.Limits) {
        self.input = input
        self.limits = limits
    }

    /// The members of the top-level object named in `names`, in text order,
    /// each value as `JSONParser` makes it; nil when the text is valid JSON
    /// but not an object. Throws what `JSONParser.parse(bytes, limits:)`
    /// throws, at the same offset.
    public static func read(_ bytes: UnsafeRawBufferPointer, names: Names,
                     limits: JSONParser.Limits = .token) throws(JSONError) -> JSONObject? {
        guard bytes.count <= limits.maxBytes else { throw JSONError(kind: .tooLarge, offset: 0) }
        var reader = ClaimsReader(input: bytes, limits: limits)
        reader.skipWhitespace()
        var members: [JSONObject.Member] = []
        let isObject = reader.position < bytes.count && bytes[reader.position] == UInt8(ascii: "{")
        if isObject {
            try reader.readObject(selecting: names, into: &members)
        } else {
            try reader.skipValue()
        }
        reader.skipWhitespace()
        guard reader.position == bytes.count else { throw JSONError(kind: .trailingData, offset: reader.position) }
        return isObject ? JSONObject(uniqueMembers: members) : nil
    }

    // MARK: Grammar (mirrors JSONParser step by step, for the same errors)

    private func fail(_ kind: JSONError.Kind) -> JSONError { JSONError(kind: kind, offset: position) }

    private mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func skipValue() throws(JSONError) {
        guard position < input.count else { throw fail(.unexpectedEnd) }
        switch input[position] {
        case UInt8(ascii: "{"):
            var none: [JSONObject.Member] = []
            try readObject(selecting: nil, into: &none)
        case UInt8(ascii: "["): try skipArray()
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw fail(.unexpectedByte)
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= input.count else { throw fail(.unexpectedEnd) }
        let p = word.utf8Start
        for i in 0..<n where input[position + i] != p[i] { throw fail(.unexpectedByte) }
        position += n
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        guard depth <= limits.maxDepth else { throw fail(.tooDeep) }
    }

    /// Validates an object; with `names`, appends the members so named.
    private mutating func readObject(selecting names: Names?,
                                     into members: inout [JSONObject.Member]) throws(JSONError) {
        try enter()
        position += 1
        let base = keys.count
        var seen: Set<String>? = nil
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            guard input[position] == UInt8(ascii: "\"") else { throw fail(.unexpectedByte) }
            let keyOffset = position
            let key = try readKey()
            if seen != nil {
                guard seen!.insert(text(of: key)).inserted else { throw JSONError(kind: .duplicateKey, offset: keyOffset) }
            } else {
                for i in base..<keys.count where same(keys[i], key) {
                    throw JSONError(kind: .duplicateKey, offset: keyOffset)
                }
                keys.append(key)
                if keys.count - base > Self.linearMembers {
                    seen = Set(keys[base...].map { text(of: $0) })
                    keys.removeSubrange(base...)
                }
            }
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            guard input[position] == UInt8(ascii: ":") else { throw fail(.unexpectedByte) }
            position += 1
            skipWhitespace()
            let valueStart = position
            try skipValue()
            if let names, names.matches(key, in: input) {
                let value = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: input[valueStart..<position]),
                                                 limits: limits)
                members.append(JSONObject.Member(key: text(of: key), value: value))
            }
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                depth -= 1
                if keys.count > base { keys.removeSubrange(base...) }
                return
            default: throw fail(.unexpectedByte)
            }
        }
    }

    /// Reads a member name: ASCII without escapes stays a range of the input.
    private mutating func readKey() throws(JSONError) -> Key {
        let quote = position
        position += 1
        while position < input.count {
            let c = input[position]
            if c == UInt8(ascii: "\"") {
                position += 1
                return .raw((quote + 1)..<(position - 1))
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            position += 1
        }
        position = quote
        try skipString()
        guard case .string(let s) = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: input[quote..<position]),
                                                         limits: limits) else {
            throw JSONError(kind: .invalidString, offset: quote)
        }
        return .text(s, ascii: s.utf8.allSatisfy { $0 < 0x80 })
    }

    private func text(of key: Key) -> String {
        switch key {
        case .raw(let range): return String(decoding: UnsafeRawBufferPointer(rebasing: input[range]), as: UTF8.self)
        case .text(let s, _): return s
        }
    }

    /// Swift String equality of two names (canonical equivalence), without
    /// making Strings when both are ASCII.
    private func same(_ a: Key, _ b: Key) -> Bool {
        switch (a, b) {
        case (.raw(let x), .raw(let y)):
            guard x.count == y.count else { return false }
            var i = x.lowerBound, j = y.lowerBound
            while i < x.upperBound {
                if input[i] != input[j] { return false }
                i += 1; j += 1
            }
            return true
        case (.raw(let x), .text(let s, true)), (.text(let s, true), .raw(let x)):
            return s.utf8.count == x.count && s.utf8.elementsEqual(input[x])
        default:
            return text(of: a) == text(of: b)
        }
    }

    private mutating func skipArray() throws(JSONError) {
        try enter()
        position += 1
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            try skipValue()
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                depth -= 1
                return
            default: throw fail(.unexpectedByte)
            }
        }
    }

    private mutating func skipNumber() throws(JSONError) {
        let start = position
        var integral = true
        if input[position] == UInt8(ascii: "-") { position += 1 }
        guard position < input.count else { throw fail(.invalidNumber) }
        if input[position] == UInt8(ascii: "0") {
            position += 1
            if position < input.count, isDigit(input[position]) { throw fail(.invalidNumber) }
        } else if isDigit(input[position]) {
            while position < input.count, isDigit(input[position]) { position += 1 }
        } else {
            throw fail(.invalidNumber)
        }
        if position < input.count, input[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard position < input.count, isDigit(input[position]) else { throw fail(.invalidNumber) }
            while position < input.count, isDigit(input[position]) { position += 1 }
        }
        if position < input.count, input[position] | 0x20 == UInt8(ascii: "e") {
            integral = false
            position += 1
            if position < input.count, input[position] == UInt8(ascii: "+") || input[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < input.count, isDigit(input[position]) else { throw fail(.invalidNumber) }
            while position < input.count, isDigit(input[position]) { position += 1 }
        }
        let text = UnsafeRawBufferPointer(rebasing: input[start..<position])
        if integral && fitsInt64(text) { return }
        // As JSONParser: what is not an exact Int64 must be a finite Double.
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
            throw JSONError(kind: .invalidNumber, offset: start)
        }
    }

    /// Whether a validated integer literal is within Int64.
    private func fitsInt64(_ text: UnsafeRawBufferPointer) -> Bool {
        let negative = text[0] == UInt8(ascii: "-")
        let digits = text.count - (negative ? 1 : 0)
        if digits < 19 { return true }
        if digits > 19 { return false }
        // 19 digits: compare with 9223372036854775807 (or ...808 negative).
        let limit: StaticString = negative ? "9223372036854775808" : "9223372036854775807"
        let p = limit.utf8Start
        let first = negative ? 1 : 0
        for i in 0..<19 {
            let c = text[first + i]
            if c != p[i] { return c < p[i] }
        }
        return true
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func skipString() throws(JSONError) {
        position += 1  // opening quote
        while true {
            guard position < input.count else { throw fail(.unexpectedEnd) }
            let c = input[position]
            switch c {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                try skipEscape()
            case 0..<0x20:
                throw fail(.invalidString)
            case 0x20..<0x80:
                position += 1
            default:
                try skipUTF8Sequence()
            }
        }
    }

    private mutating func skipEscape() throws(JSONError) {
        position += 1
        guard position < input.count else { throw fail(.unexpectedEnd) }
        let c = input[position]
        position += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            let scalar = try parseHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                guard position + 1 < input.count, input[position] == UInt8(ascii: "\\"),
                      input[position + 1] == UInt8(ascii: "u") else { throw fail(.invalidEscape) }
                position += 2
                let low = try parseHex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw fail(.invalidEscape) }
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw fail(.invalidEscape)
            }
        default:
            throw fail(.invalidEscape)
        }
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard position + 4 <= input.count else { throw fail(.unexpectedEnd) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = input[position]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.invalidEscape)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// One multi-byte UTF-8 sequence, validated as JSONParser does (RFC 3629 §4).
    private mutating func skipUTF8Sequence() throws(JSONError) {
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
        default: throw fail(.invalidUTF8)
        }
        guard position + length <= input.count else { throw fail(.invalidUTF8) }
        let b1 = input[position + 1]
        guard b1 >= lower && b1 <= upper else { throw fail(.invalidUTF8) }
        for i in 2..<max(2, length) {
            let b = input[position + i]
            guard b >= 0x80 && b <= 0xBF else { throw fail(.invalidUTF8) }
        }
        position += length
    }
}
