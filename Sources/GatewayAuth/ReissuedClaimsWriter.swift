/// Writes the claim set of a reissued token (`TokenReissuer.claims`)
/// straight from the old token's claims JSON into a byte buffer, with the
/// very bytes `JSONSerializer.serialize(TokenReissuer.claims(...))` gives,
/// but without the JSONValue tree: no parse of the whole claim set into
/// Strings and arrays, no JSONObject edits, no second walk to serialize.
///
/// How it stays byte-identical: the input was accepted by `ClaimsReader`
/// (JSONParser's rules), so each old value is re-written in JSONSerializer's
/// canonical form straight from its text: whitespace dropped, strings
/// unescaped then escaped as `JSONSerializer.writeString` does, exact
/// integers in decimal, other numbers through `Double` and `description`,
/// literals as they are. Member names are matched as Swift Strings match
/// them (canonical equivalence) whenever a name is not plain ASCII. Values
/// from a claim update are written by `JSONSerializer.write` itself.
/// Anything unexpected makes `write` return false; the caller then takes the
/// JSONObject path.
struct ReissuedClaimsWriter {
    /// The values the reissue sets (`TokenReissuer.claims`), as JSON text.
    struct Replacements {
        var authTime: Int64
        var iat: Int64
        var exp: Int64
        var rfc: Int64
        /// base64url: no character needs escaping.
        var jti: String
    }

    private let input: UnsafeRawBufferPointer
    private var position = 0

    private init(input: UnsafeRawBufferPointer) { self.input = input }

    /// Appends to `out` the serialized claims of the reissue of `claimsJSON`
    /// with `replacements` and `updates` (reserved claims in `updates` are
    /// ignored, `null` removes). False (with `out` partly written) when the
    /// text is not the validated object it must be.
    static func write(claimsJSON: UnsafeRawBufferPointer, replacements: Replacements, updates: JSONObject?,
                      reserved: [String], into out: inout [UInt8]) -> Bool {
        var writer = ReissuedClaimsWriter(input: claimsJSON)
        return writer.writeObject(replacements, updates: updates, reserved: reserved, into: &out)
    }

    // MARK: Top level

    /// Names the reissue replaces or checks, in the order absent ones are appended.
    private static let authTime = Array("auth_time".utf8), iat = Array("iat".utf8), exp = Array("exp".utf8),
                       rfc = Array("rfc".utf8), jti = Array("jti".utf8)
    private static let nameStrings = ["auth_time", "iat", "exp", "rfc", "jti"]

    private mutating func writeObject(_ values: Replacements, updates: JSONObject?, reserved: [String],
                                      into out: inout [UInt8]) -> Bool {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { return false }
        position += 1
        out.append(UInt8(ascii: "{"))
        // Which of `names` the old claims hold; which update members were merged in place.
        var present: (Bool, Bool, Bool, Bool, Bool) = (false, false, false, false, false)
        var merged = [Bool](repeating: false, count: updates?.count ?? 0)
        var first = true
        func comma() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
        }
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let keyStart = position
                guard peek == UInt8(ascii: "\""), skipString() else { return false }
                let key = UnsafeRawBufferPointer(rebasing: input[keyStart..<position])
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { return false }
                position += 1
                skipWhitespace()
                let valueStart = position
                guard skipValue() else { return false }
                let value = UnsafeRawBufferPointer(rebasing: input[valueStart..<position])

                // The key as a String only when it is not plain ASCII, or for updates.
                let plain = Self.isPlainASCII(key)
                var text: String? = nil
                if !plain || updates != nil {
                    guard let decoded = Self.decodedString(key) else { return false }
                    text = decoded
                }
                // Which of `names` the key is, found once.
                let which = plain ? Self.reservedIndex(plainKey: key) : Self.nameStrings.firstIndex { $0 == text }
                func named(_ i: Int) -> Bool { which == i }
                var written = false
                // auth_time is kept as written; the other four are replaced in place.
                if named(0) { present.0 = true }
                else if named(1) { present.1 = true; comma(); rewriteString(key, into: &out); Self.member(values.iat, &out); written = true }
                else if named(2) { present.2 = true; comma(); rewriteString(key, into: &out); Self.member(values.exp, &out); written = true }
                else if named(3) { present.3 = true; comma(); rewriteString(key, into: &out); Self.member(values.rfc, &out); written = true }
                else if named(4) {
                    present.4 = true; comma(); rewriteString(key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    Self.writeJTI(values.jti, &out)
                    written = true
                }
                if !written, let updates, let text {
                    for (i, m) in updates.members.enumerated() where !merged[i] && m.key == text {
                        guard !reserved.contains(m.key) else { break }
                        merged[i] = true
                        if m.value != .null {
                            comma(); rewriteString(key, into: &out); out.append(UInt8(ascii: ":"))
                            JSONSerializer.write(m.value, to: &out)
                        }
                        written = true
                        break
                    }
                }
                if !written {
                    comma()
                    rewriteString(key, into: &out)
                    out.append(UInt8(ascii: ":"))
                    guard rewriteValue(value, into: &out) else { return false }
                }
                skipWhitespace()
                guard let c = peek else { return false }
                position += 1
                if c == UInt8(ascii: "}") { break }
                guard c == UInt8(ascii: ",") else { return false }
            }
        }
        skipWhitespace()
        guard position == input.count else { return false }
        // Absent ones, in TokenReissuer.claims's order.
        if !present.0 { comma(); Self.name(Self.authTime, &out); Self.member(values.authTime, &out) }
        if !present.1 { comma(); Self.name(Self.iat, &out); Self.member(values.iat, &out) }
        if !present.2 { comma(); Self.name(Self.exp, &out); Self.member(values.exp, &out) }
        if !present.3 { comma(); Self.name(Self.rfc, &out); Self.member(values.rfc, &out) }
        if !present.4 {
            comma(); Self.name(Self.jti, &out); out.append(UInt8(ascii: ":"))
            Self.writeJTI(values.jti, &out)
        }
        if let updates {
            for (i, m) in updates.members.enumerated() where !merged[i] && m.value != .null && !reserved.contains(m.key) {
                comma()
                JSONSerializer.writeString(m.key, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONSerializer.write(m.value, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    private static func name(_ ascii: [UInt8], _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: ascii)
        out.append(UInt8(ascii: "\""))
    }

    /// `:` and an integer, as JSONSerializer writes `.int`.
    private static func member(_ value: Int64, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: ":"))
        writeDecimal(value, &out)
    }

    /// `String(value)`'s bytes without making the String.
    static func writeDecimal(_ value: Int64, _ out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // The magnitude as UInt64 (Int64.min has no positive Int64).
        var m = value < 0 ? UInt64(bitPattern: 0 &- value) : UInt64(value)
        // 20 digits hold UInt64.max.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
            var n = 0
            repeat {
                d[n] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                n += 1
            } while m > 0
            while n > 0 {
                n -= 1
                out.append(d[n])
            }
        }
    }

    /// The index in `names` of a plain ASCII quoted key, by length and bytes.
    private static func reservedIndex(plainKey quoted: UnsafeRawBufferPointer) -> Int? {
        switch quoted.count {
        case 5:
            switch (quoted[1], quoted[2], quoted[3]) {
            case (UInt8(ascii: "i"), UInt8(ascii: "a"), UInt8(ascii: "t")): return 1
            case (UInt8(ascii: "e"), UInt8(ascii: "x"), UInt8(ascii: "p")): return 2
            case (UInt8(ascii: "r"), UInt8(ascii: "f"), UInt8(ascii: "c")): return 3
            case (UInt8(ascii: "j"), UInt8(ascii: "t"), UInt8(ascii: "i")): return 4
            default: return nil
            }
        case 11: return equals(quoted, authTime) ? 0 : nil
        default: return nil
        }
    }

    /// The jti: base64url, so its bytes need no escaping.
    private static func writeJTI(_ jti: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: jti.utf8)
        out.append(UInt8(ascii: "\""))
    }

    private static func isPlainASCII(_ quoted: UnsafeRawBufferPointer) -> Bool {
        for i in 1..<(quoted.count - 1) {
            let c = quoted[i]
            if c == UInt8(ascii: "\\") || c >= 0x80 { return false }
        }
        return true
    }

    /// A plain ASCII quoted name equals `ascii`.
    private static func equals(_ quoted: UnsafeRawBufferPointer, _ ascii: [UInt8]) -> Bool {
        guard quoted.count == ascii.count + 2 else { return false }
        for i in 0..<ascii.count where quoted[i + 1] != ascii[i] { return false }
        return true
    }

    /// The String JSONParser makes of a quoted string.
    private static func decodedString(_ quoted: UnsafeRawBufferPointer) -> String? {
        guard case .string(let s)? = try? JSONParser.parse(quoted, limits: .token) else { return nil }
        return s
    }

    // MARK: Values, re-written canonically

    private var peek: UInt8? { position < input.count ? input[position] : nil }

    private mutating func skipWhitespace() { JSONLexis.skipWhitespace(input, &position) }

    /// Moves past one (validated) string, quotes included.
    private mutating func skipString() -> Bool {
        position += 1
        while position < input.count {
            let c = input[position]
            if c == UInt8(ascii: "\"") { position += 1; return true }
            position += c == UInt8(ascii: "\\") ? 2 : 1
        }
        return false
    }

    /// Moves past one (validated) value.
    private mutating func skipValue() -> Bool {
        guard let c = peek else { return false }
        switch c {
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while position < input.count {
                let b = input[position]
                if b == UInt8(ascii: "\"") {
                    guard skipString() else { return false }
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { position += 1; return true }
                }
                position += 1
            }
            return false
        default:
            // A number or literal: up to the next delimiter.
            while position < input.count {
                let b = input[position]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]")
                    || b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { break }
                position += 1
            }
            return true
        }
    }

    /// Writes one validated value (its text exactly) as JSONSerializer would
    /// write the value JSONParser makes of it.
    private func rewriteValue(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        var nested = ReissuedClaimsWriter(input: text)
        guard nested.rewrite(into: &out) else { return false }
        nested.skipWhitespace()
        return nested.position == text.count
    }

    private mutating func rewrite(into out: inout [UInt8]) -> Bool {
        guard let c = peek else { return false }
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            out.append(c)
            position += 1
            skipWhitespace()
            if peek == close { position += 1; out.append(close); return true }
            while true {
                skipWhitespace()
                if c == UInt8(ascii: "{") {
                    let start = position
                    guard peek == UInt8(ascii: "\""), skipString() else { return false }
                    rewriteString(UnsafeRawBufferPointer(rebasing: input[start..<position]), into: &out)
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { return false }
                    position += 1
                    out.append(UInt8(ascii: ":"))
                    skipWhitespace()
                }
                guard rewrite(into: &out) else { return false }
                skipWhitespace()
                guard let d = peek else { return false }
                position += 1
                if d == close { out.append(close); return true }
                guard d == UInt8(ascii: ",") else { return false }
                out.append(d)
            }
        case UInt8(ascii: "\""):
            let start = position
            guard skipString() else { return false }
            rewriteString(UnsafeRawBufferPointer(rebasing: input[start..<position]), into: &out)
            return true
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = position
            guard skipValue() else { return false }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<position]))
            return true
        default:
            // As JSONParser.parseNumber, then JSONSerializer.write.
            let start = position
            guard let integral = try? JSONLexis.scanNumber(input, &position) else { return false }
            let text = UnsafeRawBufferPointer(rebasing: input[start..<position])
            if integral, let value = JSONLexis.int64(text) {
                Self.writeDecimal(value, &out)
                return true
            }
            guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else { return false }
            out.append(contentsOf: value.description.utf8)
            return true
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// One byte of a string's decoded UTF-8, escaped as
    /// `JSONSerializer.writeString` escapes it.
    @inline(__always)
    private static func escape(_ c: UInt8, _ out: inout [UInt8]) {
        switch c {
        case UInt8(ascii: "\""): out.append(0x5C); out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0..<0x20:
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
        default: out.append(c)
        }
    }

    /// A validated quoted string (raw UTF-8 and JSON escapes), written as
    /// JSONSerializer writes the String JSONParser makes of it.
    private func rewriteString(_ quoted: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var i = 1
        let end = quoted.count - 1
        while i < end {
            // A run that needs no escaping is copied at once.
            var run = i
            while run < end, quoted[run] >= 0x20, quoted[run] != UInt8(ascii: "\\"), quoted[run] != UInt8(ascii: "\"") {
                run += 1
            }
            if run > i {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: quoted[i..<run]))
                i = run
                continue
            }
            let c = quoted[i]
            guard c == UInt8(ascii: "\\") else {
                Self.escape(c, &out)
                i += 1
                continue
            }
            let e = quoted[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): Self.escape(0x08, &out)
            case UInt8(ascii: "f"): Self.escape(0x0C, &out)
            case UInt8(ascii: "n"): Self.escape(0x0A, &out)
            case UInt8(ascii: "r"): Self.escape(0x0D, &out)
            case UInt8(ascii: "t"): Self.escape(0x09, &out)
            case UInt8(ascii: "u"):
                var p = i
                var scalar = (try? JSONLexis.hex4(quoted, &p)) ?? 0xFFFD
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // The validated low half follows as \uXXXX.
                    p += 2
                    let low = (try? JSONLexis.hex4(quoted, &p)) ?? 0xDC00
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                i = p
                for byte in UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")! { Self.escape(byte, &out) }
            default: Self.escape(e, &out)  // \" \\ \/
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
