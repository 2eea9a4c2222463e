import Testing
@testable import GatewayCore
@testable import GatewayProxy

/// The request-line rules the connection applies on top of the parser.
@Suite struct ClientConnectionRulesTests {
    static func path(_ target: String) -> String {
        Array(target.utf8).withUnsafeBytes { String(decoding: PathPart.of($0), as: UTF8.self) }
    }

    @Test(arguments: [
        ("/a/b?x=1", "/a/b"),
        ("/a#frag", "/a"),
        ("/", "/"),
        ("http://example.com/a/b?q", "/a/b"),
        ("http://example.com", ""),
        ("http://example.com:8080/x", "/x"),
    ])
    func pathPart(target: String, expected: String) {
        #expect(Self.path(target) == expected)
    }
}
