/// Byte-level writers shared by the access log and the readiness body: JSON
/// string escaping with UTF-8 repair, and integers without String allocation.
enum LogEscaping {
    static let backslash = UInt8(ascii: "\\")
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `bytes` as the inside of a JSON string (RFC 8259 §7), without the
    /// quotes: `"` and `\` escaped, control characters (and DEL, so a log line
    /// never carries terminal control bytes) as `\n`, `\r`, `\t` or `\u00XX`.
    /// Bytes that are not well-formed UTF-8 (RFC 3629 §4, which also excludes
    /// overlongs, surrogates and values past U+10FFFF) are written as U+FFFD,
    /// one per maximal ill-formed subpart, so raw network bytes never reach
    /// the output.
    static func appendJSONEscaped(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ appendJSONEscaped($0, into: &out) }) {
            return done
        }
        let copy = Array(bytes)
        copy.withUnsafeBufferPointer { appendJSONEscaped($0, into: &out) }
    }

    static func appendJSONEscaped(_ b: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 {
                switch c {
                case UInt8(ascii: "\""): out.append(backslash); out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(backslash); out.append(UInt8(ascii: "\\"))
                case 0x0A: out.append(backslash); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(backslash); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(backslash); out.append(UInt8(ascii: "t"))
                case 0..<0x20, 0x7F:
                    out.append(backslash); out.append(UInt8(ascii: "u"))
                    out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "0"))
                    out.append(hexDigits[Int(c >> 4)]); out.append(hexDigits[Int(c & 0x0F)])
                default: out.append(c)
                }
                i += 1
                continue
            }
            let len = wellFormedLength(b, at: i)
            if len > 0 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<(i + len)]))
                i += len
            } else {
                // U+FFFD REPLACEMENT CHARACTER.
                out.append(0xEF); out.append(0xBF); out.append(0xBD)
                i += illFormedSubpartLength(b, at: i)
            }
        }
    }

    /// Length of the well-formed multi-byte sequence starting at `i` (lead
    /// byte >= 0x80), or 0 when it is ill-formed. RFC 3629 §4 table.
    @inline(__always)
    static func wellFormedLength(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let (len, lo, hi) = leadInfo(b[i])
        guard len > 0, i + len <= b.count else { return 0 }
        guard b[i + 1] >= lo, b[i + 1] <= hi else { return 0 }
        var k = 2
        while k < len {
            guard b[i + k] & 0xC0 == 0x80 else { return 0 }
            k += 1
        }
        return len
    }

    /// How many bytes one U+FFFD replaces: the lead byte plus the continuation
    /// bytes that could still have belonged to it (the "maximal subpart" of
    /// Unicode §3.9), at least 1.
    static func illFormedSubpartLength(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let (len, lo, hi) = leadInfo(b[i])
        guard len > 0 else { return 1 }
        var k = 1
        while k < len, i + k < b.count {
            let c = b[i + k]
            let ok = k == 1 ? (c >= lo && c <= hi) : (c & 0xC0 == 0x80)
            guard ok else { break }
            k += 1
        }
        return k
    }

    /// Sequence length for a lead byte and the allowed range of the second byte;
    /// length 0 for bytes that never start a sequence (80-C1, F5-FF).
    @inline(__always)
    static func leadInfo(_ c: UInt8) -> (Int, UInt8, UInt8) {
        switch c {
        case 0xC2...0xDF: return (2, 0x80, 0xBF)
        case 0xE0: return (3, 0xA0, 0xBF)          // no overlongs
        case 0xED: return (3, 0x80, 0x9F)          // no surrogates
        case 0xE1...0xEF: return (3, 0x80, 0xBF)
        case 0xF0: return (4, 0x90, 0xBF)          // no overlongs
        case 0xF1...0xF3: return (4, 0x80, 0xBF)
        case 0xF4: return (4, 0x80, 0x8F)          // nothing past U+10FFFF
        default: return (0, 0, 0)
        }
    }

    /// Decimal digits of `v`, written most significant first straight into
    /// `out` (no String, no scratch buffer).
    static func appendDecimal(_ v: UInt64, into out: inout [UInt8]) {
        var pow: UInt64 = 1
        var m = v
        while m >= 10 { m /= 10; pow *= 10 }
        var rest = v
        while pow > 0 {
            out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / pow))
            rest %= pow
            pow /= 10
        }
    }

    static func appendDecimal(_ v: Int64, into out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        appendDecimal(v.magnitude, into: &out)
    }

    /// `v` padded with zeros to `width` digits (v >= 0, v < 10^width).
    @inline(__always)
    static func appendPadded(_ v: Int, width: Int, into out: inout [UInt8]) {
        var pow = 1
        for _ in 1..<width { pow *= 10 }
        var rest = v
        while pow > 0 {
            out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / pow))
            rest %= pow
            pow /= 10
        }
    }
}
