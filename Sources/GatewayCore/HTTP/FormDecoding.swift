/// `application/x-www-form-urlencoded` (WHATWG URL §5.1), strictly: a bad
/// percent escape is a refusal, not a literal `%`. Used for token request
/// bodies (RFC 6749 §4.1.3 shape) and admin query strings.
public enum FormDecoding {
    /// `+` is a space and `%XX` a byte; nil on a truncated or non-hex escape.
    public static func percentDecoded(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                let h = bytes.index(after: i)
                guard h != bytes.endIndex else { return nil }
                let l = bytes.index(after: h)
                guard l != bytes.endIndex, let hi = hexValue(bytes[h]), let lo = hexValue(bytes[l]) else { return nil }
                out.append(hi << 4 | lo)
                i = bytes.index(after: l)
                continue
            }
            out.append(c == UInt8(ascii: "+") ? 0x20 : c)
            i = bytes.index(after: i)
        }
        return out
    }

    /// The decoded name/value pairs of a form body, in order; nil when any
    /// escape is bad. A pair without `=` has an empty value.
    public static func pairs(_ body: some Collection<UInt8>) -> [(name: [UInt8], value: [UInt8])]? {
        var out: [(name: [UInt8], value: [UInt8])] = []
        for pair in Array(body).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            guard let name = percentDecoded(pair[pair.startIndex..<eq]) else { return nil }
            let value = eq == pair.endIndex ? [] : percentDecoded(pair[pair.index(after: eq)...])
            guard let value else { return nil }
            out.append((name, value))
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
