/// The one reading of a request path that routing and the upstream share
/// (SPEC §4.1-4.2).
///
/// Routing on the raw target while the upstream normalizes lets a client
/// reach a stricter route through a laxer one (`/%61dmin/x`, `//admin/x` and
/// `/admin;p/x` are `/admin/x` to Python, Go, nginx, Tomcat and Spring). So
/// the path is normalized once, when the head is parsed (RFC 3986 §6.2.2):
///
/// - a percent-encoded unreserved character (ALPHA / DIGIT / `-` `.` `_` `~`,
///   §2.3) is decoded: `%61` is `a`, `%7e` is `~`;
/// - every other escape keeps its byte, with upper-case hex (`%2a` is `%2A`);
///   so a decoded byte is never `/`, `?`, `;`, `#` or `%`, and `%25` stays
///   an escape (`/%2561dmin` is not `/admin`);
/// - a run of `/` becomes one (`///a//b/` is `/a/b/`);
/// - nothing else changes: no case folding, the query is kept byte for byte,
///   an empty path (absolute-form `http://h?q`) becomes `/` (RFC 9112 §3.2.1).
///
/// That normalized path (with its query) is what the upstream receives
/// (`HeadWriter.writeUpstreamRequest`) and what the access log shows; routing
/// matches `withRoutingKey` of it: the same path with `;parameters` cut from
/// every segment and the empty segments the cut leaves merged
/// (`/admin;x/y` and `/;p/admin/y` route as `/admin/y`).
///
/// The input must be a path `TargetValidator` accepted (it refuses dot
/// segments, `%2F`, `%5C`, `%00`, backslashes and bad escapes before this
/// runs); given anything else the functions still terminate without
/// trapping, copying what they do not understand.
public enum PathNormalizer {
    /// Normalizes `t[start...]`, a path (starting with `/`, or empty) followed
    /// by an optional `?query`. Returns nil when the bytes are already normal
    /// (the common case: nothing is allocated), else the rewritten path with
    /// the query appended unchanged. `pathCount` is the length of the path
    /// part of the result (of `t[start...]` when nil is returned).
    public static func normalize(_ t: UnsafeRawBufferPointer, from start: Int) -> (rewritten: [UInt8]?, pathCount: Int) {
        let n = t.count
        var out: [UInt8]? = nil
        var i = start
        if i == n || t[i] == 0x3F /* ? */ {
            // Empty path: origin-form needs "/" (RFC 9112 §3.2.1).
            var o: [UInt8] = [0x2F]
            o.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[i..<n]))
            return (o, 1)
        }
        var lastWasSlash = false
        while i < n {
            let b = t[i]
            if b == 0x3F { break }
            if b == 0x2F {
                if lastWasSlash {
                    if out == nil { out = begin(t, start, i) }
                } else {
                    out?.append(b)
                }
                lastWasSlash = true
                i += 1
                continue
            }
            lastWasSlash = false
            if b == 0x25, i + 2 < n, let h = HTTPSyntax.hexValue(t[i + 1]), let l = HTTPSyntax.hexValue(t[i + 2]) {
                let v = h << 4 | l
                if isUnreserved(v) {
                    if out == nil { out = begin(t, start, i) }
                    out?.append(v)
                } else if isLowerHex(t[i + 1]) || isLowerHex(t[i + 2]) {
                    if out == nil { out = begin(t, start, i) }
                    out?.append(0x25)
                    out?.append(upperHex(h))
                    out?.append(upperHex(l))
                } else if out != nil {
                    out?.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[i..<(i + 3)]))
                }
                i += 3
                continue
            }
            out?.append(b)
            i += 1
        }
        guard var o = out else { return (nil, i - start) }
        let pathCount = o.count
        o.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[i..<n]))
        return (o, pathCount)
    }

    /// Calls `body` with the routing key of `path` (a normalized path, no
    /// query): every segment cut at its first `;`, and the empty segments
    /// the cut leaves merged, so `/admin;p/x`, `/;p/admin/x` and
    /// `/admin/;p/x` all give `/admin/x`, and `/admin;p` gives `/admin`.
    /// Only `;` itself starts parameters: `%3B` is a byte of the segment, as
    /// Tomcat reads it. A path without `;`, or with `;` only in its last
    /// segment, is passed as a slice of itself; otherwise the key is built
    /// in temporary (stack, for ordinary lengths) storage.
    ///
    /// Inlinable, so a caller in another module gets it specialized: called
    /// generically, each call looked up the runtime metadata of its result
    /// type (~330 instructions a request).
    @inlinable
    public static func withRoutingKey<R>(_ path: UnsafeRawBufferPointer,
                                         _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let semicolon: UInt8 = 0x3B
        let n = path.count
        var first = 0
        while first < n && path[first] != semicolon { first += 1 }
        if first == n { return body(path) }
        var k = first + 1
        while k < n && path[k] != 0x2F { k += 1 }
        if k == n {
            // Only the last segment has parameters: the key is a prefix.
            return body(UnsafeRawBufferPointer(rebasing: path[0..<first]))
        }
        return withUnsafeTemporaryAllocation(byteCount: n, alignment: 1) { buf in
            var w = 0
            var inParams = false
            for i in 0..<n {
                let b = path[i]
                if b == 0x2F {
                    inParams = false
                    if w > 0 && buf[w - 1] == 0x2F { continue }
                } else if inParams {
                    continue
                } else if b == semicolon {
                    inParams = true
                    continue
                }
                buf[w] = b
                w += 1
            }
            return body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[0..<w]))
        }
    }

    /// `withRoutingKey` into an array (tests, fuzzing).
    public static func routingKey(_ path: [UInt8]) -> [UInt8] {
        path.withUnsafeBytes { withRoutingKey($0) { Array($0) } }
    }

    /// `normalize` of a whole path[?query] in an array (tests, fuzzing):
    /// the normalized bytes, rewritten or not.
    public static func normalized(_ pathAndQuery: [UInt8]) -> [UInt8] {
        pathAndQuery.withUnsafeBytes { normalize($0, from: 0).rewritten } ?? pathAndQuery
    }

    /// ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3).
    @inline(__always)
    public static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: return true
        default: return false
        }
    }

    /// The bytes before the first change, copied once.
    private static func begin(_ t: UnsafeRawBufferPointer, _ start: Int, _ i: Int) -> [UInt8] {
        var o: [UInt8] = []
        o.reserveCapacity(t.count - start)
        o.append(contentsOf: UnsafeRawBufferPointer(rebasing: t[start..<i]))
        return o
    }

    @inline(__always)
    private static func isLowerHex(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x66 }

    @inline(__always)
    private static func upperHex(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }
}

/// A request head's target as routing and the upstream read it: origin-form,
/// path normalized by `PathNormalizer`, query as received. Built once by the
/// parser (`HTTPHead.normalized`).
public struct NormalizedTarget: Sendable, Equatable {
    /// Where in `HTTPHead.bytes` the received path and query lie (the whole
    /// target for origin-form, the part after the authority for absolute-form).
    public var raw: Range<Int>
    /// The normalized path and query when they differ from `bytes[raw]`; nil
    /// when the received bytes are already normal (no allocation).
    public var rewritten: [UInt8]?
    /// Bytes of the path part (before `?`) of the normalized target.
    public var pathCount: Int

    public init(raw: Range<Int>, rewritten: [UInt8]?, pathCount: Int) {
        self.raw = raw; self.rewritten = rewritten; self.pathCount = pathCount
    }

    /// For a head whose target is `bytes[target]`, or nil when
    /// `TargetValidator` refuses the target: validation and normalization
    /// read the same split, so they cannot disagree about where the path is.
    public static func of(_ bytes: UnsafeRawBufferPointer, target: Range<Int>) -> NormalizedTarget? {
        let t = UnsafeRawBufferPointer(rebasing: bytes[target])
        guard let split = TargetValidator.split(t) else { return nil }
        let (rewritten, pathCount) = PathNormalizer.normalize(t, from: split.path)
        return NormalizedTarget(raw: (target.lowerBound + split.path)..<target.upperBound,
                                rewritten: rewritten, pathCount: pathCount)
    }
}
