/// The strict shape of a Host field value (RFC 9110 §7.2, RFC 3986 §3.2.2):
/// `host [":" port]` where host is an IP literal in brackets or a name made of
/// letters, digits, `-`, `.`, `_` and `~`, and port is 1 to 5 digits.
///
/// Stricter than RFC 3986's reg-name on purpose: it refuses sub-delims
/// (`,` `;` `=` `!` ...) and percent escapes. A Host like `a.com,evil.com`
/// would be one name to us and a list to an upstream framework that splits
/// on commas (and builds password-reset links from the first element), so
/// two parties could read it differently. No real host name needs them.
/// The empty value stays valid: RFC 9112 §3.2 allows it, and it names no
/// host route.
public enum HostSyntax {
    /// True when `bytes[range]` is an acceptable Host value.
    public static func isValid(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        bytes.withUnsafeBytes { isValid(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    public static func isValid(_ h: UnsafeRawBufferPointer) -> Bool {
        let n = h.count
        if n == 0 { return true }
        var i = 0
        if h[0] == 0x5B {                                   // "[" IP-literal "]"
            i = 1
            var sawColon = false
            while i < n, h[i] != 0x5D {
                let b = h[i]
                guard HTTPSyntax.hexValue(b) != nil || b == HTTPSyntax.colon || b == 0x2E else { return false }
                if b == HTTPSyntax.colon { sawColon = true }
                i += 1
            }
            // An IPv6 address has colons; IPvFuture ("v1.x") is refused.
            guard i < n, i > 1, sawColon else { return false }
            i += 1
        } else {
            while i < n, h[i] != HTTPSyntax.colon {
                guard isNameByte(h[i]) else { return false }
                i += 1
            }
            guard i > 0 else { return false }
        }
        if i == n { return true }
        // ":" port, 1-5 digits.
        guard h[i] == HTTPSyntax.colon else { return false }
        let digits = n - i - 1
        guard digits >= 1, digits <= 5 else { return false }
        for k in (i + 1)..<n where !(h[k] >= 0x30 && h[k] <= 0x39) { return false }
        return true
    }

    /// unreserved (RFC 3986 §2.3).
    @inline(__always)
    static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: return true
        default: return false
        }
    }
}
