/// Why a JSON text was refused; `offset` is the byte where it was noticed.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case tooLarge
        case tooDeep
        case unexpectedEnd
        case unexpectedByte
        case invalidNumber
        case invalidString
        case invalidEscape
        case invalidUTF8
        case duplicateKey
        case trailingData
    }
    public var kind: Kind
    public var offset: Int
    public var description: String { "JSON \(kind) at byte \(offset)" }
}

/// A strict JSON parser (RFC 8259) for JWS headers, claims and JWK sets.
///
/// Stricter than RFC 8259 requires, because a JWT is security input and
/// Foundation's parser is lenient: duplicate member names are an error
/// (RFC 7515 §5.2 lets a JWS parser reject them, and accepting them lets two
/// parsers disagree on a claim); strings must be valid UTF-8 (RFC 8259 §8.1)
/// with no raw control characters; lone surrogate escapes are refused;
/// numbers follow the grammar exactly (no leading zeros, no `+`, no NaN or
/// Infinity, nothing that overflows Double); nesting and size are limited;
/// only whitespace may follow the value.
public struct JSONParser {
    public struct Limits: Sendable {
        public var maxBytes: Int
        /// Containers nested deeper than this are refused (the top-level
        /// object is depth 1).
        public var maxDepth: Int
        public init(maxBytes: Int, maxDepth: Int) { self.maxBytes = maxBytes; self.maxDepth = maxDepth }
        /// For JWS headers and claims (the token itself is capped at 8 KiB).
        public static let token = Limits(maxBytes: 8192, maxDepth: 16)
        /// For JWK sets from files or URLs.
        public static let keySet = Limits(maxBytes: 1 << 20, maxDepth: 16)
    }

    private let input: UnsafeRawBufferPointer
    private let limits: Limits
    private var position = 0
    private var depth = 0

    private init(input: UnsafeRawBufferPointer, limits: Limits) {
        self.input = input
        self.limits = limits
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: Limits = .token) throws(JSONError) -> JSONValue {
        guard bytes.count <= limits.maxBytes else { throw JSONError(kind: .tooLarge, offset: 0) }
        var parser = JSONParser(input: bytes, limits: limits)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw JSONError(kind: .trailingData, offset: parser.position) }
        return value
    }

    public static func parse(_ bytes: [UInt8], limits: Limits = .token) throws(JSONError) -> JSONValue {
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBytes { raw in
            do throws(JSONError) { return .success(try parse(raw, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ text: String, limits: Limits = .token) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), limits: limits)
    }

    // MARK: Grammar

    private func fail(_ kind: JSONError.Kind) -> JSONError { JSONError(kind: kind, offset: position) }

    private mutating func skipWhitespace() { JSONLexis.skipWhitespace(input, &position) }

    private mutating func parseValue() throws(JSONError) -> JSONValue {
        guard position < input.count else { throw fail(.unexpectedEnd) }
        switch input[position] {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return .array(try parseArray())
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail(.unexpectedByte)
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONError) {
        try JSONLexis.expectLiteral(word, input, &position)
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        guard depth <= limits.maxDepth else { throw fail(.tooDeep) }
    }

    private mutating func parseObject() throws(JSONError) -> JSONObject {
        try enter()
        position += 1
        var members: [JSONObject.Member] = []
        // Small objects: linear duplicate check; larger ones switch to a set
        // so a crafted object cannot cost quadratic time.
        var seen: Set<String>? = nil
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return JSONObject(uniqueMembers: members)
        }
        while true {
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            guard input[position] == UInt8(ascii: "\"") else { throw fail(.unexpectedByte) }
            let keyOffset = position
            let key = try parseString()
            if var set = seen {
                guard set.insert(key).inserted else { throw JSONError(kind: .duplicateKey, offset: keyOffset) }
                seen = set
            } else {
                for m in members where m.key == key { throw JSONError(kind: .duplicateKey, offset: keyOffset) }
                if members.count >= 16 { seen = Set(members.map(\.key) + [key]) }
            }
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            guard input[position] == UInt8(ascii: ":") else { throw fail(.unexpectedByte) }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONObject.Member(key: key, value: value))
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                depth -= 1
                return JSONObject(uniqueMembers: members)
            default: throw fail(.unexpectedByte)
            }
        }
    }

    private mutating func parseArray() throws(JSONError) -> [JSONValue] {
        try enter()
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard position < input.count else { throw fail(.unexpectedEnd) }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                depth -= 1
                return elements
            default: throw fail(.unexpectedByte)
            }
        }
    }

    private mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = position
        let integral = try JSONLexis.scanNumber(input, &position)
        let text = UnsafeRawBufferPointer(rebasing: input[start..<position])
        if integral, let value = JSONLexis.int64(text) { return .int(value) }
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
            throw JSONError(kind: .invalidNumber, offset: start)
        }
        return .double(value)
    }

    private mutating func parseString() throws(JSONError) -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: printable ASCII without escapes becomes the String directly.
        while position < input.count {
            let c = input[position]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: input[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            position += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: input[start..<position]))
        while true {
            guard position < input.count else { throw fail(.unexpectedEnd) }
            let c = input[position]
            switch c {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &out)
            case 0..<0x20:
                throw fail(.invalidString)
            case 0x20..<0x80:
                out.append(c)
                position += 1
            default:
                try copyUTF8Sequence(into: &out)
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONError) {
        position += 1
        guard position < input.count else { throw fail(.unexpectedEnd) }
        let c = input[position]
        position += 1
        switch c {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                // A high surrogate must be followed by an escaped low one (RFC 8259 §7).
                guard position + 1 < input.count, input[position] == UInt8(ascii: "\\"),
                      input[position + 1] == UInt8(ascii: "u") else { throw fail(.invalidEscape) }
                position += 2
                let low = try parseHex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw fail(.invalidEscape) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw fail(.invalidEscape)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw fail(.invalidEscape)
        }
    }

    private mutating func parseHex4() throws(JSONError) -> UInt32 { try JSONLexis.hex4(input, &position) }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence (RFC 3629 §4: no overlong
    /// forms, no surrogates, nothing above U+10FFFF) and copies it.
    private mutating func copyUTF8Sequence(into out: inout [UInt8]) throws(JSONError) {
        let length = try JSONLexis.utf8Sequence(input, at: position)
        for i in 0..<length { out.append(input[position + i]) }
        position += length
    }
}
