import Testing
@testable import GatewayCore

/// `PathNormalizer` (SPEC §4.1-4.2): the one reading of a path that routing
/// and the upstream share, and its agreement with `TargetValidator`.
@Suite struct PathNormalizerTests {
    func norm(_ s: String) -> String { String(decoding: PathNormalizer.normalized(bytes(s)), as: UTF8.self) }
    func key(_ s: String) -> String { String(decoding: PathNormalizer.routingKey(bytes(s)), as: UTF8.self) }
    func valid(_ s: String) -> Bool { bytes(s).withUnsafeBytes { TargetValidator.validate($0) } }
    /// True when normalize reported "already normal" (no rewritten copy).
    func untouched(_ s: String) -> Bool { bytes(s).withUnsafeBytes { PathNormalizer.normalize($0, from: 0).rewritten == nil } }

    // MARK: normalization

    @Test(arguments: [
        // unreserved escapes decoded, any hex case
        ("/%61dmin/x", "/admin/x"), ("/%41", "/A"), ("/%7e", "/~"), ("/%7E", "/~"), ("/%2d%2E%5f%5F", "/-.__"),
        ("/%30%39", "/09"), ("/a%2eb", "/a.b"), ("/%7A%5a", "/zZ"),
        // other escapes: upper-case hex, byte kept
        ("/%2a", "/%2A"), ("/%2A", "/%2A"), ("/%c3%a9", "/%C3%A9"), ("/%C3%a9", "/%C3%A9"), ("/%3b", "/%3B"),
        ("/%3f", "/%3F"), ("/%23", "/%23"), ("/%20", "/%20"), ("/%0d%0a", "/%0D%0A"), ("/%ff", "/%FF"),
        // %25 stays an escape: no double decoding
        ("/%2561dmin/x", "/%2561dmin/x"), ("/%25", "/%25"),
        // runs of slashes merge
        ("//admin/x", "/admin/x"), ("///a//b/", "/a/b/"), ("/a////", "/a/"), ("//", "/"),
        // parameters are kept in the normalized path (they are forwarded)
        ("/admin;p/x", "/admin;p/x"), ("/;p/admin/x", "/;p/admin/x"), ("/a;%61=b", "/a;a=b"),
        // no case folding
        ("/Admin/X", "/Admin/X"), ("/%41dmin", "/Admin"),
        // query byte for byte, `?` and all
        ("/a%2a?x=%2f&y=//z&%61", "/a%2A?x=%2f&y=//z&%61"), ("//a?//b", "/a?//b"), ("/a?", "/a?"),
        ("/%61?", "/a?"),
        // empty path (absolute-form) becomes "/"
        ("", "/"), ("?q=1", "/?q=1"),
    ])
    func normalizes(input: String, expected: String) {
        #expect(norm(input) == expected)
    }

    @Test(arguments: ["/", "/admin/x", "/a/b/", "/%2A", "/%C3%A9/x?q=%2f", "/a;b=c/d", "/%25", "/Admin", "/a?x=//y"])
    func normalPathsAreNotCopied(_ path: String) {
        #expect(untouched(path))
        #expect(norm(path) == path)
    }

    @Test func onlyChangedPathsAreCopied() {
        #expect(!untouched("//a"))
        #expect(!untouched("/%2a"))
        #expect(!untouched("/%41"))
        #expect(!untouched(""))
    }

    @Test func pathCountIsThePathPart() {
        let cases: [(String, Int)] = [("/a%2a?q", 5), ("/%61?q", 2), ("/abc?q", 4), ("//x", 2), ("?q", 1), ("/a", 2)]
        for (s, want) in cases {
            let got = bytes(s).withUnsafeBytes { PathNormalizer.normalize($0, from: 0).pathCount }
            #expect(got == want, "\(s)")
        }
    }

    // MARK: routing key

    @Test(arguments: [
        ("/admin;x/y", "/admin/y"), ("/;p/admin/x", "/admin/x"), ("/admin;p", "/admin"), ("/admin/;p/x", "/admin/x"),
        ("/admin/;p", "/admin/"), ("/;p", "/"), ("/a;b;c/d;e", "/a/d"), ("/admin/x", "/admin/x"),
        ("/a%3Bb/c", "/a%3Bb/c"), ("/;a/;b/c", "/c"), ("/;a/;b/", "/"), ("/a;=/", "/a/"),
    ])
    func routingKeyCutsParameters(path: String, expected: String) {
        #expect(key(path) == expected)
    }

    // MARK: validator rules the normalizer relies on

    @Test(arguments: [
        "/a%2Fb", "/a%2fb", "/%2F", "/a%5Cb", "/a%5cb", "/a%00", "/a/%2e%2e/b", "/a/.%2E/b", "/a/%2E./b", "/a/..;x/b",
        "/a/.;x", "/a/%2e", "/a/%G0", "/a/%4", "/a/%", "/a\\b", "/..", "//..", "/a//./b", "/admin%2F..%2Fx",
    ])
    func validatorRefuses(_ path: String) {
        #expect(!valid(path))
    }

    // MARK: properties, over a grammar of tricky pieces

    static let pieces = ["/", "//", "a", "A", "%61", "%2a", "%2A", "%7e", "%2e", ".", "..", ";", ";p", "%3b", "%25",
                         "%c3%a9", "-", "_", "~", "%5F", "%41", "?", "?x=%2f//", "%2F", "%5c", "%00", "%g0", "%4",
                         "\\", "x;..", "..;x"]

    /// Every path of up to `depth` pieces after a leading "/".
    static func paths(depth: Int) -> [String] {
        var out = ["/"]
        var layer = ["/"]
        for _ in 0..<depth {
            layer = layer.flatMap { p in pieces.map { p + $0 } }
            out += layer
        }
        return out
    }

    @Test func propertiesHoldForEveryAcceptedPath() {
        var accepted = 0
        for p in Self.paths(depth: 3) where valid(p) {
            accepted += 1
            let once = PathNormalizer.normalized(bytes(p))
            let onceText = String(decoding: once, as: UTF8.self)
            // accepted by the validator, and a second pass changes nothing
            #expect(once.withUnsafeBytes { TargetValidator.validate($0) }, "\(p) -> \(onceText) refused")
            #expect(once.withUnsafeBytes { PathNormalizer.normalize($0, from: 0).rewritten } == nil,
                    "\(p) -> \(onceText) not idempotent")
            let path = once.prefix { $0 != UInt8(ascii: "?") }
            #expect(!containsDoubleSlash(Array(path)), "\(p) -> \(onceText) has //")
            #expect(!hasDotSegment(Array(path)), "\(p) -> \(onceText) has a dot segment")
            #expect(!hasDecodableUnreserved(Array(path)), "\(p) -> \(onceText) keeps an unreserved escape")
            let k = PathNormalizer.routingKey(Array(path))
            #expect(!k.contains(UInt8(ascii: ";")) && !containsDoubleSlash(k) && k.first == UInt8(ascii: "/"),
                    "\(p) key \(String(decoding: k, as: UTF8.self))")
            // the query is untouched
            #expect(Array(once.drop { $0 != UInt8(ascii: "?") }) == Array(bytes(p).drop { $0 != UInt8(ascii: "?") }))
        }
        #expect(accepted > 1000)   // the grammar really exercises accepted paths
    }

    @Test func normalizingAnythingNeverTraps() {
        // Refused inputs too (the parser never hands them over, but a hand-built
        // head might): the normalizer terminates and makes no byte it was not given
        // beyond upper-case hex digits and "/".
        for p in Self.paths(depth: 2) {
            let once = PathNormalizer.normalized(bytes(p))
            let allowed = Set(bytes(p) + bytes("/0123456789ABCDEF"))
            #expect(once.allSatisfy { allowed.contains($0) || PathNormalizer.isUnreserved($0) }, "\(p)")
        }
    }

    func containsDoubleSlash(_ b: [UInt8]) -> Bool {
        zip(b, b.dropFirst()).contains { $0 == UInt8(ascii: "/") && $1 == UInt8(ascii: "/") }
    }

    /// A segment that, fully percent-decoded and cut at `;`, is `.` or `..`.
    func hasDotSegment(_ b: [UInt8]) -> Bool {
        for seg in b.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            var decoded: [UInt8] = []
            var i = seg.startIndex
            while i < seg.endIndex {
                if seg[i] == UInt8(ascii: "%"), i + 2 < seg.endIndex,
                   let v = UInt8(String(decoding: seg[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                    decoded.append(v); i += 3
                } else {
                    decoded.append(seg[i]); i += 1
                }
            }
            let cut = decoded.prefix { $0 != UInt8(ascii: ";") }
            if cut == [0x2E] || cut == [0x2E, 0x2E] { return true }
        }
        return false
    }

    func hasDecodableUnreserved(_ b: [UInt8]) -> Bool {
        var i = 0
        while i + 2 < b.count {
            if b[i] == UInt8(ascii: "%"), let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16),
               PathNormalizer.isUnreserved(v) { return true }
            i += 1
        }
        return false
    }
}
