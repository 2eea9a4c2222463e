/// Byte classes and small helpers shared by the HTTP/1.1 parser, chunked
/// decoder and writer (RFC 9110 §5.6, RFC 9112). Internal: callers use the
/// parser's results, not these.
public enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B
    static let dquote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C

    /// tchar (RFC 9110 §5.6.2).
    @inline(__always)
    public static func isTchar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E:
            return true
        default: return false
        }
    }

    /// SP or HTAB (OWS/BWS, RFC 9110 §5.6.3).
    @inline(__always)
    static func isWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// Index of the first LF in `bytes` at or after `start`, or
    /// `bytes.count`. Eight bytes per step (SWAR: a byte of `x ^ 0x0A..`
    /// is zero exactly where an LF is), then byte by byte for the tail.
    static func firstLF(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let n = bytes.count
        var i = start
        guard let base = bytes.baseAddress else { return n }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let lfs: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        while i + 8 <= n {
            // Little-endian order, so the lowest set bit is the first byte
            // (borrows only spill into bytes after a real zero).
            let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ lfs
            let zero = (x &- ones) & ~x & highs
            if zero != 0 { return i + zero.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < n && bytes[i] != lf { i += 1 }
        return i
    }

    /// All eight bytes of `x` are visible ASCII or SP (0x20...0x7E): no
    /// control, DEL or obs-text byte among them. Exact (the usual "has a
    /// byte less than n / more than n" tests).
    @inline(__always)
    static func allPrintableASCII(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below20 = (x &- ones &* 0x20) & ~x & highs
        let above7E = ((x &+ ones) | x) & highs
        return below20 | above7E == 0
    }

    /// Memory-order index (0-7) of the last byte of `x` (loaded little-endian)
    /// that is not SP; nil when all eight are. Exact per byte: no carry
    /// crosses a byte boundary.
    @inline(__always)
    static func lastNonSpace(_ x: UInt64) -> Int? {
        let z = x ^ 0x2020_2020_2020_2020
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let spaceMarks = ~(((z & low7) &+ low7) | z | low7)   // 0x80 in each SP byte
        let nonSpace = ~spaceMarks & 0x8080_8080_8080_8080
        if nonSpace == 0 { return nil }
        return (63 - nonSpace.leadingZeroBitCount) / 8
    }

    /// field-vchar, SP or HTAB (RFC 9110 §5.5): VCHAR / obs-text.
    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool { (b >= 0x21 && b != 0x7F) || b == sp || b == htab }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// ASCII case-insensitive comparison of `bytes[range]` with a lowercase literal.
    @inline(__always)
    static func equalsLower(_ bytes: [UInt8], _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        return literal.withUTF8Buffer { lit in
            var i = 0
            var p = range.lowerBound
            while i < lit.count {
                if lower(bytes[p]) != lit[i] { return false }
                i += 1; p += 1
            }
            return true
        }
    }

    /// `raw[range]`, a token (tchar only: the caller checked), equals the
    /// lowercase `literal` of letters and "-" ignoring case. For those two,
    /// OR-ing 0x20 lowercases exactly: among tchar only A-Z and a-z map to a
    /// letter, and only "-" maps to "-" (0x0D, the other byte that would,
    /// is no tchar). So eight bytes compare at once.
    @inline(__always)
    static func tokenEquals(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard range.count == n else { return false }
        let name = raw.baseAddress! + range.lowerBound
        let lit = UnsafeRawPointer(literal.utf8Start)
        if n >= 8 {
            let fold: UInt64 = 0x2020_2020_2020_2020
            var i = 0
            while i + 8 <= n {
                if name.loadUnaligned(fromByteOffset: i, as: UInt64.self) | fold
                    != lit.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            if i == n { return true }
            // The last eight bytes, overlapping the words already compared.
            return name.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) | fold
                == lit.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        for i in 0..<n where name.load(fromByteOffset: i, as: UInt8.self) | 0x20 != lit.load(fromByteOffset: i, as: UInt8.self) {
            return false
        }
        return true
    }

    /// Same comparison against a lowercase byte array (caller-supplied names).
    @inline(__always)
    static func equalsLower(_ bytes: [UInt8], _ range: Range<Int>, _ other: [UInt8]) -> Bool {
        guard range.count == other.count else { return false }
        var p = range.lowerBound
        for o in other {
            if lower(bytes[p]) != o { return false }
            p += 1
        }
        return true
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Calls `body` with each non-empty element of the comma-separated list in
    /// `bytes[range]`, OWS trimmed (RFC 9110 §5.6.1: empty elements are ignored).
    /// Stops early when `body` returns false; returns false in that case.
    @inline(__always)
    @discardableResult
    static func forEachListElement(_ bytes: [UInt8], _ range: Range<Int>,
                                   _ body: (Range<Int>) -> Bool) -> Bool {
        var p = range.lowerBound
        let end = range.upperBound
        while p <= end {
            var q = p
            while q < end && bytes[q] != comma { q += 1 }
            var s = p
            var e = q
            while s < e && isWS(bytes[s]) { s += 1 }
            while e > s && isWS(bytes[e - 1]) { e -= 1 }
            if s < e && !body(s..<e) { return false }
            p = q + 1
        }
        return true
    }
}

extension KnownField {
    /// Recognises `bytes[name]` (a token) case-insensitively: switch on the
    /// length first so most names cost one comparison at most.
    static func lookup(_ bytes: [UInt8], _ name: Range<Int>) -> KnownField {
        bytes.withUnsafeBytes { lookup($0, name) }
    }

    /// `raw[name]` must be a token (tchar only, as the parser checked).
    static func lookup(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>) -> KnownField {
        typealias S = HTTPSyntax
        precondition(name.lowerBound >= 0 && name.upperBound <= raw.count)
        switch name.count {
        case 2: return S.tokenEquals(raw, name, "te") ? .te : .other
        case 4: return S.tokenEquals(raw, name, "host") ? .host : .other
        case 6:
            if S.tokenEquals(raw, name, "cookie") { return .cookie }
            if S.tokenEquals(raw, name, "expect") { return .expect }
            return .other
        case 7:
            if S.tokenEquals(raw, name, "trailer") { return .trailer }
            if S.tokenEquals(raw, name, "upgrade") { return .upgrade }
            return .other
        case 10:
            if S.tokenEquals(raw, name, "connection") { return .connection }
            if S.tokenEquals(raw, name, "keep-alive") { return .keepAlive }
            return .other
        case 12: return S.tokenEquals(raw, name, "x-request-id") ? .xRequestID : .other
        case 13: return S.tokenEquals(raw, name, "authorization") ? .authorization : .other
        case 14: return S.tokenEquals(raw, name, "content-length") ? .contentLength : .other
        case 15: return S.tokenEquals(raw, name, "x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            if S.tokenEquals(raw, name, "proxy-connection") { return .proxyConnection }
            if S.tokenEquals(raw, name, "x-forwarded-host") { return .xForwardedHost }
            return .other
        case 17:
            if S.tokenEquals(raw, name, "transfer-encoding") { return .transferEncoding }
            if S.tokenEquals(raw, name, "x-forwarded-proto") { return .xForwardedProto }
            return .other
        case 29:
            return S.tokenEquals(raw, name, "access-control-expose-headers") ? .accessControlExposeHeaders : .other
        default: return .other
        }
    }
}
