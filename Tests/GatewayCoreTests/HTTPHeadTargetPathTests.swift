import Testing
@testable import GatewayCore

/// `HTTPHead.normalized`: the path routing matches and the upstream receives,
/// taken from the split the parser validated, for origin-form and
/// absolute-form targets.
@Suite struct HTTPHeadTargetPathTests {
    static func parse(_ target: String) -> HTTPHead? {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        let text = "GET \(target) HTTP/1.1\r\nHost: example.com\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else { return nil }
        return head
    }

    static func routingPath(_ head: HTTPHead) -> String {
        head.withRoutingPath { String(decoding: $0, as: UTF8.self) }
    }

    @Test(arguments: [
        ("/a/b?x=1", "/a/b"),
        ("/", "/"),
        ("http://example.com/a/b?q", "/a/b"),
        // An empty absolute-form path is "/" in origin-form (RFC 9112 §3.2.1);
        // routing used to see "" here.
        ("http://example.com", "/"),
        ("http://example.com:8080/x", "/x"),
        ("HTTP://example.com/upper-scheme", "/upper-scheme"),
        ("/%61dmin/x", "/admin/x"),
        ("//admin/x", "/admin/x"),
        ("/admin;p/x", "/admin/x"),
        ("/;p/admin/x", "/admin/x"),
        ("/admin;p", "/admin"),
        ("/%2561dmin/x", "/%2561dmin/x"),
        ("http://example.com//%61dmin;p/x?q", "/admin/x"),
    ])
    func pathOfTarget(target: String, expected: String) throws {
        let head = try #require(Self.parse(target))
        #expect(Self.routingPath(head) == expected)
    }

    @Test(arguments: [
        ("/a/b?x=1", "/a/b?x=1"),
        ("/%61dmin/x?%61=//%2f", "/admin/x?%61=//%2f"),
        ("//admin;p/x", "/admin;p/x"),
        ("http://example.com", "/"),
        ("http://example.com?q=1", "/?q=1"),
        ("http://example.com//a/%7e?q", "/a/~?q"),
        ("http://example.com/a/b?q", "/a/b?q"),
    ])
    func forwardedTargetIsNormalizedOriginForm(target: String, expected: String) throws {
        let head = try #require(Self.parse(target))
        #expect(String(decoding: head.forwardedTarget, as: UTF8.self) == expected)
    }

    @Test func aNormalTargetIsNotCopied() throws {
        let head = try #require(Self.parse("/api/v1/items?x=%2F"))
        #expect(head.normalized.rewritten == nil)
        #expect(head.normalized.raw == head.target)
        let abs = try #require(Self.parse("http://example.com/api/v1"))
        #expect(abs.normalized.rewritten == nil)
        #expect(abs.string(abs.normalized.raw) == "/api/v1")
    }

    @Test func aHandBuiltHeadGetsTheSameReading() throws {
        let parsed = try #require(Self.parse("//%61;p/b?q"))
        let built = HTTPHead(bytes: parsed.bytes, startLine: parsed.startLine, version: parsed.version,
                             fields: parsed.fields, method: parsed.method, target: parsed.target, status: 0,
                             framing: parsed.framing, keepAlive: parsed.keepAlive, expectContinue: false,
                             isUpgrade: false, hostField: parsed.hostField)
        #expect(built.normalized == parsed.normalized)
        #expect(String(decoding: built.forwardedTarget, as: UTF8.self) == "/a;p/b?q")
    }

    @Test(arguments: ["/a%2Fb", "/a%2fb", "/%5c", "/a%00", "/a/%2e%2e/admin", "/a/..;x/b", "/%G0", "/%4"])
    func refusedTargetsAreBadTarget(_ target: String) {
        #expect(parseError("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
    }

    @Test func aFragmentNeverReachesRouting() {
        #expect(Self.parse("/a#frag") == nil)
    }

    @Test func fieldLookupByNameIgnoresCase() throws {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        let text = "GET / HTTP/1.1\r\nHost: a\r\nX-Custom-Thing: 1\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("did not parse"); return
        }
        #expect(head.firstIndex(ofFieldNamed: Array("x-custom-thing".utf8)) == 1)
        #expect(head.firstIndex(ofFieldNamed: Array("x-custom".utf8)) == nil)
    }
}
