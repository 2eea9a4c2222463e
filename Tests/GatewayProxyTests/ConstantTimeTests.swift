import Testing
@testable import GatewayProxy

@Suite struct ConstantTimeTests {
    @Test(arguments: [
        ("Bearer abc", "Bearer abc", true),
        ("Bearer abc", "Bearer abd", false),
        ("Bearer abc", "Bearer ab", false),
        ("", "", true),
        ("", "x", false),
        ("Bearer abc\u{0}", "Bearer abc", false),
    ])
    func equality(a: String, b: String, equal: Bool) {
        #expect(ConstantTime.equal(Array(a.utf8), Array(b.utf8)) == equal)
    }
}
