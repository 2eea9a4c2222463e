/// Checks a request-target (RFC 9112 §3.2) before the gateway routes on it.
///
/// Accepted: origin-form (`/path?query`) and absolute-form with scheme `http`
/// or `https` (`http://host[:port]/path?query`). Refused: asterisk-form,
/// authority-form, userinfo in the authority, a fragment (`#`), bytes outside
/// visible ASCII, a raw backslash, and — after percent-decoding the path — a
/// dot segment (`.` or `..`, also when spelled `%2e`), an encoded slash
/// (`%2F`, always), a backslash (`%5C`), a NUL (`%00`) or a malformed `%`
/// escape. The query is not looked at.
///
/// Why: the path is then normalized once (`PathNormalizer`) and that one
/// reading is what routing matches and what the upstream receives (SPEC
/// §4.1). What normalization must not do is resolve dot segments or decode
/// a slash (either would let `/open/..%2Fadmin` or `/open%2F../admin` mean
/// one thing to the router and another to an upstream that decodes
/// further), so those requests are refused instead. A segment whose part
/// before `;` is a dot segment (`/..;/`) is refused too, because servlet
/// containers strip path parameters before resolving dot segments.
public enum TargetValidator {
    /// True when `target` is acceptable.
    public static func validate(_ target: UnsafeRawBufferPointer) -> Bool {
        split(target) != nil
    }

    /// Validates and splits `target`: `authority` is the host[:port] range of
    /// an absolute-form target (nil for origin-form); `path` is where the
    /// path (or, when the path is empty, the query) starts. Nil when invalid.
    public static func split(_ target: UnsafeRawBufferPointer) -> (authority: Range<Int>?, path: Int)? {
        let n = target.count
        guard n > 0 else { return nil }
        for b in target where b <= 0x20 || b >= 0x7F || b == 0x23 /* # */ || b == HTTPSyntax.backslash {
            return nil
        }
        if target[0] == 0x2F /* / */ {
            return checkPath(target, from: 0) ? (nil, 0) : nil
        }
        // absolute-form: "http://" or "https://", scheme case-insensitive (RFC 3986 §3.1).
        var p = 0
        while p < n && p < 5 && isAlpha(target[p]) { p += 1 }
        let schemeOK: Bool
        switch p {
        case 4: schemeOK = lowerEquals(target, 0..<4, "http")
        case 5: schemeOK = lowerEquals(target, 0..<5, "https")
        default: schemeOK = false
        }
        guard schemeOK, p + 3 <= n, target[p] == HTTPSyntax.colon, target[p + 1] == 0x2F, target[p + 2] == 0x2F
        else { return nil }
        let authStart = p + 3
        var q = authStart
        while q < n && target[q] != 0x2F && target[q] != 0x3F /* ? */ { q += 1 }
        let authority = authStart..<q
        guard checkAuthority(target, authority) else { return nil }
        return checkPath(target, from: q) ? (authority, q) : nil
    }

    /// host [":" port] without userinfo (RFC 9110 §4.2.4 forbids it for http(s)).
    static func checkAuthority(_ t: UnsafeRawBufferPointer, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty else { return false }
        var hostEnd = r.upperBound
        var inBracket = false
        for i in r {
            let b = t[i]
            switch b {
            case 0x5B: inBracket = true       // [
            case 0x5D: inBracket = false      // ]
            case HTTPSyntax.colon where !inBracket: hostEnd = min(hostEnd, i)
            case 0x40: return false           // @ userinfo
            default:
                guard isHostByte(b) else { return false }
            }
        }
        guard hostEnd > r.lowerBound else { return false }
        // port = *DIGIT (RFC 3986 §3.2.3)
        if hostEnd < r.upperBound {
            for i in (hostEnd + 1)..<r.upperBound where !(t[i] >= 0x30 && t[i] <= 0x39) { return false }
        }
        return true
    }

    /// Percent-decodes the path from `start` up to `?` and looks for dot
    /// segments (also before a `;`), encoded slashes, backslashes, NULs and
    /// bad escapes.
    static func checkPath(_ t: UnsafeRawBufferPointer, from start: Int) -> Bool {
        let n = t.count
        var i = start
        var segLen = 0        // decoded bytes of the segment before any ';'
        var segDots = 0
        var inParams = false
        while i < n && t[i] != 0x3F {
            var b = t[i]
            if b == 0x25 {    // %
                guard i + 2 < n, let h = HTTPSyntax.hexValue(t[i + 1]), let l = HTTPSyntax.hexValue(t[i + 2])
                else { return false }
                b = h << 4 | l
                i += 3
                // An encoded slash is refused outright: upstreams disagree on
                // whether it separates segments.
                if b == 0x2F { return false }
            } else {
                i += 1
            }
            if b == 0 || b == HTTPSyntax.backslash { return false }
            if b == 0x2F {
                if isDotSegment(segLen, segDots) { return false }
                segLen = 0; segDots = 0; inParams = false
                continue
            }
            // A decoded `%3B` starts parameters here too, though routing cuts
            // at a raw `;` only: stricter, since upstreams differ on whether
            // they strip parameters before or after decoding.
            if b == HTTPSyntax.semicolon { inParams = true }
            if !inParams {
                segLen += 1
                if b == 0x2E { segDots += 1 }
            }
        }
        return !isDotSegment(segLen, segDots)
    }

    @inline(__always)
    static func isDotSegment(_ len: Int, _ dots: Int) -> Bool { (len == 1 || len == 2) && dots == len }

    @inline(__always)
    static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }

    /// unreserved / sub-delims / pct-encoded ('%') / ':' (RFC 3986 §3.2.2).
    @inline(__always)
    static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x2D, 0x2E, 0x5F, 0x7E: return true                          // - . _ ~
        case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: return true  // sub-delims
        case 0x25, 0x3A, 0x5B, 0x5D: return true                          // % : [ ]
        default: return false
        }
    }

    static func lowerEquals(_ t: UnsafeRawBufferPointer, _ r: Range<Int>, _ lit: StaticString) -> Bool {
        lit.withUTF8Buffer { l in
            guard l.count == r.count else { return false }
            for (k, i) in r.enumerated() where HTTPSyntax.lower(t[i]) != l[k] { return false }
            return true
        }
    }
}
