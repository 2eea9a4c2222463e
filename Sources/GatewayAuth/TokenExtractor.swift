public import GatewayCore

/// Finds the bearer token of a request in the configured places
/// (`[tokens] sources`, SPEC §5): `Authorization: Bearer <token>` (scheme
/// case-insensitive, exactly one space, RFC 6750 §2.1), a cookie, or a query
/// parameter of the raw target. All sources are searched in the configured
/// order; the same token in several places is fine, two different tokens are
/// `malformed` (RFC 6750 §2: one method per request), none is `missingToken`.
/// An Authorization header with another scheme (e.g. Basic) is not a token.
///
/// Works on byte ranges into one buffer and returns the token's range, so no
/// bytes are copied.
public struct TokenExtractor: Sendable {
    public var sources: [TokenSource] {
        didSet { sourceNames = Self.names(of: sources) }
    }
    /// Each source's cookie or parameter name as bytes (empty for the
    /// header), made when the sources are set, not per request.
    private var sourceNames: [[UInt8]]

    public init(sources: [TokenSource]) {
        self.sources = sources
        sourceNames = Self.names(of: sources)
    }

    private static func names(of sources: [TokenSource]) -> [[UInt8]] {
        sources.map { source in
            switch source {
            case .header: return []
            case .cookie(let name), .query(let name): return Array(name.utf8)
            }
        }
    }

    /// From a parsed request head (field ranges into `head.bytes`). The
    /// head's fields are read in place: no array of ranges per request.
    public func extract(from head: HTTPHead) -> Result<Range<Int>, AuthFailure> {
        let fields = head.fields
        return head.bytes.withUnsafeBytes {
            extract(bytes: $0,
                    authorization: fields.lazy.filter { $0.known == .authorization }.map(\.value),
                    cookies: fields.lazy.filter { $0.known == .cookie }.map(\.value),
                    target: head.target)
        }
    }

    /// `authorization` and `cookies` are the field values (OWS trimmed) and
    /// `target` the request target, all as ranges into `bytes`.
    public func extract<Authorization: Sequence<Range<Int>>, Cookies: Sequence<Range<Int>>>(
        bytes: UnsafeRawBufferPointer, authorization: Authorization, cookies: Cookies,
        target: Range<Int>
    ) -> Result<Range<Int>, AuthFailure> {
        var found: Range<Int>? = nil
        func offer(_ range: Range<Int>) -> AuthFailure? {
            guard let first = found else { found = range; return nil }
            let same = first.count == range.count
                && UnsafeRawBufferPointer(rebasing: bytes[first]).elementsEqual(UnsafeRawBufferPointer(rebasing: bytes[range]))
            return same ? nil : .malformed("several different tokens in one request")
        }
        for (source, name) in zip(sources, sourceNames) {
            switch source {
            case .header:
                for value in authorization {
                    switch bearer(bytes, value) {
                    case .none: continue
                    case .some(.failure(let f)): return .failure(f)
                    case .some(.success(let r)): if let f = offer(r) { return .failure(f) }
                    }
                }
            case .cookie:
                for value in cookies {
                    if let f = forEachCookieValue(bytes, value, named: name, offer) { return .failure(f) }
                }
            case .query:
                if let f = forEachQueryValue(bytes, target, named: name, offer) { return .failure(f) }
            }
        }
        guard let token = found else { return .failure(.missingToken) }
        guard !token.isEmpty else { return .failure(.malformed("empty token")) }
        return .success(token)
    }

    /// nil: not a Bearer credential (another scheme: `Basic ...`,
    /// `Bearerish ...`). Otherwise the token range, or malformed when the
    /// scheme is Bearer but the rest is not exactly `1*SP token68` (RFC 6750
    /// §2.1): a tab after the scheme, nothing after it, a second token, a
    /// comma-separated list. Such a field is never "no token": on an
    /// optional route that would forward a credential nobody checked.
    private static let bearerScheme: [UInt8] = Array("bearer".utf8)

    private func bearer(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) -> Result<Range<Int>, AuthFailure>? {
        let scheme = Self.bearerScheme
        guard value.count >= scheme.count else { return nil }
        for i in 0..<scheme.count where bytes[value.lowerBound + i] | 0x20 != scheme[i] { return nil }
        let rest = (value.lowerBound + scheme.count)..<value.upperBound
        if rest.isEmpty { return .failure(.malformed("Bearer without a token")) }
        // The scheme is a token (RFC 9110 §11.1): a tchar here means it goes
        // on and is some other scheme; anything else ends "Bearer" badly.
        if HTTPSyntax.isTchar(bytes[rest.lowerBound]) { return nil }
        guard bytes[rest.lowerBound] == 0x20 else { return .failure(.malformed("bad Authorization header")) }
        var start = rest.lowerBound
        while start < rest.upperBound, bytes[start] == 0x20 { start += 1 }
        let token = start..<rest.upperBound
        guard !token.isEmpty else { return .failure(.malformed("Bearer without a token")) }
        guard Self.allToken68(UnsafeRawBufferPointer(rebasing: bytes[token])) else {
            return .failure(.malformed("bad Authorization header"))
        }
        return .success(token)
    }

    /// RFC 7235 token68 characters (plus `=` padding, refused later by the
    /// strict base64url decoder anyway): one byte per byte value, 1 for a
    /// token68 byte, so a token's few hundred bytes cost a load and an AND
    /// each on every request, cached or not (a chain of range compares, or
    /// what the vectorizer made of a bit-table, cost 15-18 instructions a
    /// byte).
    static let token68Table: [UInt8] = (0...255).map { c in
        switch UInt8(c) {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"),
             UInt8(ascii: "/"), UInt8(ascii: "="):
            return 1
        default:
            return 0
        }
    }

    static func isToken68(_ c: UInt8) -> Bool { token68Table[Int(c)] != 0 }

    /// Every byte of `token` is token68: one pass, no early exit.
    static func allToken68(_ token: UnsafeRawBufferPointer) -> Bool {
        token68Table.withUnsafeBufferPointer { table in
            var ok: UInt8 = 1
            for c in token { ok &= table[Int(c)] }
            return ok != 0
        }
    }

    /// Offers each value of the cookies named `name` in one Cookie field
    /// (RFC 6265 §5.4: `name=value` pairs separated by `;` and optional
    /// spaces; a value may be wrapped in double quotes), stopping at the
    /// first failure `offer` returns.
    private func forEachCookieValue(_ bytes: UnsafeRawBufferPointer, _ field: Range<Int>, named name: [UInt8],
                                    _ offer: (Range<Int>) -> AuthFailure?) -> AuthFailure? {
        var start = field.lowerBound
        while start <= field.upperBound {
            var end = start
            while end < field.upperBound, bytes[end] != UInt8(ascii: ";") { end += 1 }
            var lo = start, hi = end
            while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
            while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
            if let eq = (lo..<hi).first(where: { bytes[$0] == UInt8(ascii: "=") }),
               eq - lo == name.count, (0..<name.count).allSatisfy({ bytes[lo + $0] == name[$0] }) {
                var v = (eq + 1)..<hi
                if v.count >= 2, bytes[v.lowerBound] == 0x22, bytes[v.upperBound - 1] == 0x22 {
                    v = (v.lowerBound + 1)..<(v.upperBound - 1)
                }
                if let f = offer(v) { return f }
            }
            start = end + 1
        }
        return nil
    }

    /// Offers each value of the query parameters named `name` (raw, not
    /// percent-decoded: a JWS needs no escaping, and an escaped one fails
    /// strict decoding), stopping at the first failure `offer` returns.
    private func forEachQueryValue(_ bytes: UnsafeRawBufferPointer, _ target: Range<Int>, named name: [UInt8],
                                   _ offer: (Range<Int>) -> AuthFailure?) -> AuthFailure? {
        guard let question = target.first(where: { bytes[$0] == UInt8(ascii: "?") }) else { return nil }
        var end = target.upperBound
        if let hash = ((question + 1)..<target.upperBound).first(where: { bytes[$0] == UInt8(ascii: "#") }) { end = hash }
        var start = question + 1
        while start <= end {
            var stop = start
            while stop < end, bytes[stop] != UInt8(ascii: "&") { stop += 1 }
            if stop - start > name.count, bytes[start + name.count] == UInt8(ascii: "="),
               (0..<name.count).allSatisfy({ bytes[start + $0] == name[$0] }) {
                if let f = offer((start + name.count + 1)..<stop) { return f }
            }
            start = stop + 1
        }
        return nil
    }
}
