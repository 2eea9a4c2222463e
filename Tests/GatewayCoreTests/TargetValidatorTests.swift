import Testing
@testable import GatewayCore

@Suite struct TargetValidatorTests {
    func valid(_ s: String) -> Bool { bytes(s).withUnsafeBytes { TargetValidator.validate($0) } }

    static let accepted = [
        "/", "/a/b", "/a/b/", "/a/.../b", "/a/..b/c", "/a/b..", "/.well-known/x", "/a?x=/../y", "/a?q=%zz",
        "//double", "/a%20b", "/a%2Cb", "/caf%C3%A9", "/a;b=c", "/%2e%2e%2e", "/a/.b",
        "http://example.com", "http://example.com/", "HTTPS://Example.com:8443/p?q", "http://[::1]:80/x",
        "http://h?q", "http://h:/",
    ]
    static let rejected = [
        "", "*", "example.com:443", "a/b", "/a#f", "/a b", "/a\u{7f}", "/caf\u{e9}",
        // dot segments in every spelling
        "/..", "/.", "/a/..", "/a/.", "/a/../b", "/a/./b", "/../a", "/./a",
        "/a/%2e%2e/b", "/a/%2E%2E/b", "/a/.%2e/b", "/a/%2e./b", "/a/%2e/b", "/a/..%2Fb", "/a/..%2fb",
        "/a%2F..%2Fb", "/a/%2e%2e", "/a/..?x", "/a/.?x", "/a/..;/b", "/a/.;x/b", "/a/..%3B/b",
        // an encoded slash, anywhere in the path (SPEC §4.1)
        "/a%2fb", "/a%2Fb", "/%2F", "/admin%2Fx", "http://h/a%2fb",
        // backslash, NUL, bad escapes
        "/a\\b", "/a%5Cb", "/a%5cb", "/a%00b", "/a%", "/a%2", "/a%G0", "/a%0g",
        // absolute-form problems
        "ftp://h/x", "http:/h/x", "http//h", "http://", "http:///x", "http://u@h/x", "http://h:8a/x",
        "http://h/../x", "http://h/a/%2e%2e",
    ]

    @Test(arguments: accepted) func accepts(_ target: String) { #expect(valid(target)) }
    @Test(arguments: rejected) func rejects(_ target: String) { #expect(!valid(target)) }

    @Test func splitsAbsoluteForm() throws {
        let t = bytes("http://example.com:8080/p?x")
        let parts = try #require(t.withUnsafeBytes { TargetValidator.split($0) })
        #expect(parts.authority.map { String(decoding: t[$0], as: UTF8.self) } == "example.com:8080")
        #expect(parts.path == 23)
        let o = bytes("/p?x")
        let origin = try #require(o.withUnsafeBytes { TargetValidator.split($0) })
        #expect(origin.authority == nil && origin.path == 0)
    }
}
