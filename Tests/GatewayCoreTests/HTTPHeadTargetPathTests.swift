import Testing
@testable import GatewayCore

/// `HTTPHead.targetPath`: the path routing matches, taken from the split the
/// parser validated, for origin-form and absolute-form targets.
@Suite struct HTTPHeadTargetPathTests {
    static func parse(_ target: String) -> HTTPHead? {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        let text = "GET \(target) HTTP/1.1\r\nHost: example.com\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else { return nil }
        return head
    }

    @Test(arguments: [
        ("/a/b?x=1", "/a/b"),
        ("/", "/"),
        ("http://example.com/a/b?q", "/a/b"),
        ("http://example.com", ""),
        ("http://example.com:8080/x", "/x"),
        ("HTTP://example.com/upper-scheme", "/upper-scheme"),
    ])
    func pathOfTarget(target: String, expected: String) throws {
        let head = try #require(Self.parse(target))
        #expect(String(decoding: head.bytes[head.targetPath], as: UTF8.self) == expected)
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
