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
/// Only a wanted member's value is materialized: literals, exact integers
/// and strings without escapes directly (the values JSONParser makes of
/// them), anything else by `JSONParser` itself on that value's bytes, so it
/// is the very value the tree would have held. Sources/ClaimsFuzz checks
/// the two agree on every input, as claims and as a header.
public struct ClaimsReader {
    /// Member names to materialize, prepared once (per verifier, not per
    /// token): ASCII names are found by hash and matched against the raw key
    /// bytes, without making a String. A class: every VerifiedToken refers
    /// to its verifier's, and copying one reference is cheaper than four.
    public final class Names: Sendable {
        public let names: [String]
        /// Open-addressing table of the ASCII names by FNV-1a hash: index + 1, 0 empty.
        private let table: [Int]
        private let mask: UInt64
        /// UTF-8 of each name when it is ASCII, else empty.
        private let asciiBytes: [[UInt8]]
        /// Names with non-ASCII characters: matched as Strings (Swift equality
        /// is canonical equivalence, so "\u{212A}id" equals the key "Kid").
        private let otherNames: [Int]

        /// Duplicates are dropped; order is kept.
        public init(_ names: [String]) {
            var unique: [String] = []
            for n in names where !unique.contains(n) { unique.append(n) }
            self.names = unique
            var size = 16
            while size < unique.count * 4 { size *= 2 }
            var table = [Int](repeating: 0, count: size)
            var ascii: [[UInt8]] = [], other: [Int] = []
            for (i, n) in unique.enumerated() {
                let bytes = Array(n.utf8)
                guard bytes.allSatisfy({ $0 < 0x80 }) else { ascii.append([]); other.append(i); continue }
                ascii.append(bytes)
                var slot = Int(ClaimsReader.hash(bytes) & UInt64(size - 1))
                while table[slot] != 0 { slot = (slot + 1) & (size - 1) }
                table[slot] = i + 1
            }
            self.table = table
            mask = UInt64(size - 1)
            asciiBytes = ascii
            otherNames = other
        }

        /// String equality, as the tree's subscript.
        public func contains(_ name: String) -> Bool { names.contains(name) }

        /// The index of the name equal to an ASCII key without escapes
        /// (`range` of `input`, FNV-1a `hash`), and whether the name has
        /// exactly the key's bytes (not only canonical equivalence).
        fileprivate func index(ofRaw range: Range<Int>, hash: UInt64,
                               in input: UnsafeRawBufferPointer) -> (index: Int, sameBytes: Bool)? {
            var slot = Int(hash & mask)
            while table[slot] != 0 {
                let i = table[slot] - 1
                if asciiBytes[i].count == range.count && ClaimsReader.equal(asciiBytes[i], input, range) { return (i, true) }
                slot = (slot + 1) & Int(mask)
            }
            if otherNames.isEmpty { return nil }
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: input[range]), as: UTF8.self)
            return index(ofOther: key).map { ($0, false) }
        }

        /// The index of the name equal to a decoded key.
        fileprivate func index(ofText key: String) -> Int? {
            names.firstIndex(of: key)
        }

        private func index(ofOther key: String) -> Int? {
            for i in otherNames where names[i] == key { return i }
            return nil
        }
    }

    /// Receives the selected members of the top-level object, in text order,
    /// with the index of the name (in `Names.names`) each matched.
    public protocol Sink {
        mutating func take(_ nameIndex: Int, _ member: JSONObject.Member)
    }

    /// Collects the selected members.
    public struct Members: Sink {
        public var members: [JSONObject.Member] = []
        public init() { members.reserveCapacity(8) }
        public mutating func take(_ nameIndex: Int, _ member: JSONObject.Member) { members.append(member) }
    }

    /// For nested objects: nothing is selected there.
    private struct Discard: Sink {
        mutating func take(_ nameIndex: Int, _ member: JSONObject.Member) {}
    }

    /// A member name seen in an object being read, for the duplicate check:
    /// trivial, so the key stack costs no reference counting.
    private struct Key {
        /// The name's text in the input, quotes excluded.
        var range: Range<Int>
        /// FNV-1a of the bytes, when `decoded < 0`.
        var hash: UInt64
        /// -1: ASCII without escapes, the input bytes are the name;
        /// otherwise the index of the decoded name in `decodedKeys`.
        var decoded: Int
    }

    private let input: UnsafeRawBufferPointer
    private let limits: JSONParser.Limits
    private var position = 0
    private var depth = 0
    /// Names of the objects being read, innermost last (each object's own
    /// names from its base index on).
    private var keys: [Key] = []
    /// Names that had escapes or non-ASCII bytes, decoded (rare).
    private var decodedKeys: [String] = []
    /// Set by `skipString`: whether the last string had an escape.
    private var stringHadEscape = false
    /// Set by `skipNumber`: the last number when it is an exact Int64.
    private var exactInteger: Int64? = nil
    /// Past this many members an object's names go into a Set, so a crafted
    /// object cannot cost quadratic time (JSONParser does the same at 16).
    private static let linearMembers = 32

    private init(input: UnsafeRawBufferPointer, limits: JSONParser.Limits) {
        self.input = input
        self.limits = limits
        // One allocation for the names of a typical token (growing one by
        // one would reallocate four times).
        keys.reserveCapacity(Self.linearMembers)
    }

    /// The members of the top-level object named in `names`, in text order,
    /// each value as `JSONParser` makes it; nil when the text is valid JSON
    /// but not an object. Throws what `JSONParser.parse(bytes, limits:)`
    /// throws, at the same offset.
    public static func read(_ bytes: UnsafeRawBufferPointer, names: Names,
                            limits: JSONParser.Limits = .token) throws(JSONError) -> JSONObject? {
        var sink = Members()
        guard try read(bytes, names: names, limits: limits, into: &sink) else { return nil }
        return JSONObject(uniqueMembers: sink.members)
    }

    /// As `read(_:names:limits:)`, handing each selected member to `sink`;
    /// false when the text is valid JSON but not an object.
    public static func read<S: Sink>(_ bytes: UnsafeRawBufferPointer, names: Names, limits: JSONParser.Limits = .token,
                                     into sink: inout S) throws(JSONError) -> Bool {
        guard bytes.count <= limits.maxBytes else { throw JSONError(kind: .tooLarge, offset: 0) }
        var reader = ClaimsReader(input: bytes, limits: limits)
        reader.skipWhitespace()
        let isObject = reader.position < bytes.count && bytes[reader.position] == UInt8(ascii: "{")
        if isObject {
            try reader.readObject(selecting: names, into: &sink)
        } else {
            try reader.skipValue()
        }
        reader.skipWhitespace()
        guard reader.position == bytes.count else { throw JSONError(kind: .trailingData, offset: reader.position) }
        return isObject
    }

    fileprivate static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    fileprivate static func equal(_ bytes: [UInt8], _ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var j = range.lowerBound
        for b in bytes {
            if input[j] != b { return false }
            j += 1
        }
        return true
    }

    // MARK: Grammar (mirrors JSONParser step by step, for the same errors)

    private func fail(_ kind: JSONError.Kind) -> JSONError { JSONError(kind: kind, offset: position) }

    private mutating func skipWhitespace() { JSONLexis.skipWhitespace(input, &position) }

    private mutating func skipValue() throws(JSONError) {
        guard position < input.count else { throw fail(.unexpectedEnd) }
        switch input[position] {
        case UInt8(ascii: "{"):
            var none = Discard()
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
        try JSONLexis.expectLiteral(word, input, &position)
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        guard depth <= limits.maxDepth else { throw fail(.tooDeep) }
    }

    /// Validates an object; with `names`, hands the members so named to `sink`.
    private mutating func readObject<S: Sink>(selecting names: Names?, into sink: inout S) throws(JSONError) {
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
                    var set = Set<String>()
                    for i in base..<keys.count { set.insert(text(of: keys[i])) }
                    seen = set
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
            if let names {
                let match = key.decoded < 0 ? names.index(ofRaw: key.range, hash: key.hash, in: input)
                    : names.index(ofText: decodedKeys[key.decoded]).map { ($0, false) }
                if let (index, sameBytes) = match {
                    // A key with exactly a name's bytes shares the name's
                    // String instead of making one.
                    let name = sameBytes ? names.names[index] : text(of: key)
                    sink.take(index, JSONObject.Member(key: name, value: try value(from: valueStart)))
                }
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

    /// The value just skipped (from `start` to `position`), as JSONParser
    /// makes it: scalars directly, anything else by JSONParser itself.
    private func value(from start: Int) throws(JSONError) -> JSONValue {
        switch input[start] {
        case UInt8(ascii: "\"") where !stringHadEscape:
            // Validated UTF-8 without escapes: JSONParser's String has exactly these bytes.
            return .string(String(decoding: UnsafeRawBufferPointer(rebasing: input[(start + 1)..<(position - 1)]),
                                  as: UTF8.self))
        case UInt8(ascii: "t"): return .bool(true)
        case UInt8(ascii: "f"): return .bool(false)
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let exactInteger { return .int(exactInteger) }
        case UInt8(ascii: "["):
            if let array = flatArray(from: start) { return array }
        default: break
        }
        return try JSONParser.parse(UnsafeRawBufferPointer(rebasing: input[start..<position]), limits: limits)
    }

    /// The array just skipped (from `start` to `position`) when its items
    /// are all strings without escapes, literals or exact integers (a
    /// `roles` or `aud` list), as JSONParser makes it, read again from the
    /// validated bytes: the same rules as `value(from:)` for each item. Nil
    /// for anything else (escapes, other numbers, nested arrays or objects),
    /// which JSONParser then reads.
    private func flatArray(from start: Int) -> JSONValue? {
        let end = position
        var i = start + 1
        var items: [JSONValue] = []
        JSONLexis.skipWhitespace(input, &i)
        if i < end, input[i] == UInt8(ascii: "]") { return .array(items) }
        // First the items are counted (the commas outside strings), so the
        // array is allocated once; a nested container or an escape ends it.
        var count = 1, inString = false
        for j in i..<end {
            switch input[j] {
            case UInt8(ascii: "\""): inString.toggle()
            case UInt8(ascii: "\\"): return nil
            case UInt8(ascii: ","): if !inString { count += 1 }
            case UInt8(ascii: "["), UInt8(ascii: "{"): if !inString { return nil }
            default: break
            }
        }
        items.reserveCapacity(count)
        while i < end {
            JSONLexis.skipWhitespace(input, &i)
            guard i < end else { return nil }
            switch input[i] {
            case UInt8(ascii: "\""):
                // Validated and without a backslash: the next quote closes it.
                let open = i + 1
                var j = open
                while j < end, input[j] != UInt8(ascii: "\"") { j += 1 }
                guard j < end else { return nil }
                items.append(.string(String(decoding: UnsafeRawBufferPointer(rebasing: input[open..<j]), as: UTF8.self)))
                i = j + 1
            case UInt8(ascii: "t"): items.append(.bool(true)); i += 4
            case UInt8(ascii: "f"): items.append(.bool(false)); i += 5
            case UInt8(ascii: "n"): items.append(.null); i += 4
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var j = i
                guard (try? JSONLexis.scanNumber(input, &j)) == true, j <= end,
                      let n = JSONLexis.int64(UnsafeRawBufferPointer(rebasing: input[i..<j])) else { return nil }
                items.append(.int(n))
                i = j
            default: return nil
            }
            JSONLexis.skipWhitespace(input, &i)
            guard i < end else { return nil }
            // Validated: a comma or the closing bracket.
            if input[i] != UInt8(ascii: ",") { return input[i] == UInt8(ascii: "]") ? .array(items) : nil }
            i += 1
        }
        return nil
    }

    /// Reads a member name: ASCII without escapes stays a range of the input.
    private mutating func readKey() throws(JSONError) -> Key {
        let quote = position
        position += 1
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        while position < input.count {
            let c = input[position]
            if c == UInt8(ascii: "\"") {
                position += 1
                return Key(range: (quote + 1)..<(position - 1), hash: h, decoded: -1)
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            h = (h ^ UInt64(c)) &* 0x100_0000_01B3
            position += 1
        }
        position = quote
        try skipString()
        guard case .string(let s) = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: input[quote..<position]),
                                                         limits: limits) else {
            throw JSONError(kind: .invalidString, offset: quote)
        }
        decodedKeys.append(s)
        return Key(range: (quote + 1)..<(position - 1), hash: 0, decoded: decodedKeys.count - 1)
    }

    private func text(of key: Key) -> String {
        if key.decoded >= 0 { return decodedKeys[key.decoded] }
        return String(decoding: UnsafeRawBufferPointer(rebasing: input[key.range]), as: UTF8.self)
    }

    /// Swift String equality of two names (canonical equivalence), without
    /// making Strings when both are ASCII without escapes.
    private func same(_ a: Key, _ b: Key) -> Bool {
        guard a.decoded < 0 && b.decoded < 0 else { return text(of: a) == text(of: b) }
        guard a.hash == b.hash, a.range.count == b.range.count else { return false }
        var i = a.range.lowerBound, j = b.range.lowerBound
        while i < a.range.upperBound {
            if input[i] != input[j] { return false }
            i += 1; j += 1
        }
        return true
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
        let integral = try JSONLexis.scanNumber(input, &position)
        let text = UnsafeRawBufferPointer(rebasing: input[start..<position])
        exactInteger = integral ? JSONLexis.int64(text) : nil
        if exactInteger != nil { return }
        // As JSONParser: what is not an exact Int64 must be a finite Double.
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
            throw JSONError(kind: .invalidNumber, offset: start)
        }
    }

    private mutating func skipString() throws(JSONError) {
        position += 1  // opening quote
        stringHadEscape = false
        while true {
            guard position < input.count else { throw fail(.unexpectedEnd) }
            let c = input[position]
            switch c {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                stringHadEscape = true
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

    private mutating func parseHex4() throws(JSONError) -> UInt32 { try JSONLexis.hex4(input, &position) }

    /// One multi-byte UTF-8 sequence, validated (`JSONLexis.utf8Sequence`).
    private mutating func skipUTF8Sequence() throws(JSONError) {
        position += try JSONLexis.utf8Sequence(input, at: position)
    }
}
