import Testing
@testable import GatewayCore

@Suite struct ConfigAddressTests {
    @Test(arguments: [
        ("0.0.0.0:8080", "0.0.0.0", UInt16(8080)),
        ("127.0.0.1:0", "127.0.0.1", 0),
        ("localhost:65535", "localhost", 65535),
        ("app.internal-1.example:443", "app.internal-1.example", 443),
        ("[::1]:8080", "::1", 8080),
        ("[::]:8080", "::", 8080),
        ("[2001:db8::1]:9000", "2001:db8::1", 9000),
        ("[fe80:0:0:0:0:0:0:1]:1", "fe80:0:0:0:0:0:0:1", 1),
        ("[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80),
    ])
    func parses(text: String, host: String, port: UInt16) throws {
        let address = try SocketAddressSpec.parse(text)
        #expect(address == SocketAddressSpec(host: host, port: port))
        #expect(address.description == text)
    }

    @Test(arguments: [
        ("", AddressParseError.empty),
        ("localhost", .missingPort),
        ("127.0.0.1:", .badPort("")),
        ("127.0.0.1:65536", .badPort("65536")),
        ("127.0.0.1:-1", .badPort("-1")),
        ("127.0.0.1:80a", .badPort("80a")),
        (":8080", .badHostName("")),
        ("::1:8080", .unbracketedIPv6),
        ("[::1]", .missingPort),
        ("[::1:8080", .badIPv6("[::1:8080")),
        ("[1::2::3]:80", .badIPv6("1::2::3")),
        ("[12345::]:80", .badIPv6("12345::")),
        ("[1:2:3:4:5:6:7:8:9]:80", .badIPv6("1:2:3:4:5:6:7:8:9")),
        ("256.0.0.1:80", .badIPv4("256.0.0.1")),
        ("1.2.3:80", .badIPv4("1.2.3")),
        ("bad host:80", .badHostName("bad host")),
        ("a..b:80", .badHostName("a..b")),
    ])
    func rejects(text: String, expected: AddressParseError) {
        #expect(throws: expected) { try SocketAddressSpec.parse(text) }
    }

    @Test(arguments: [
        ("localhost", true), ("LOCALHOST", true), ("127.0.0.1", true), ("127.255.0.9", true),
        ("::1", true), ("0:0:0:0:0:0:0:1", true), ("::ffff:127.0.0.1", true),
        ("128.0.0.1", false), ("10.0.0.1", false), ("::", false), ("::2", false),
        ("example.com", false), ("localhost.example.com", false),
    ])
    func loopback(host: String, expected: Bool) {
        #expect(HostLiteral.isLoopback(Substring(host)) == expected)
    }

    @Test func ipv6BytesExpandsDoubleColon() {
        #expect(HostLiteral.ipv6Bytes("2001:db8::1") == [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        #expect(HostLiteral.ipv6Bytes("::") == Array(repeating: 0, count: 16))
        #expect(HostLiteral.ipv6Bytes("1:2:3:4:5:6:7::") != nil)
        #expect(HostLiteral.ipv6Bytes("1:2:3:4:5:6:7:8::") == nil)
        #expect(HostLiteral.ipv6Bytes(":1") == nil)
        #expect(HostLiteral.ipv6Bytes("1:") == nil)
    }
}
