import Testing
@testable import GatewayProxy

@Suite struct HTTPFetchTargetTests {
    typealias Target = HTTPFetch.Target

    @Test func httpsWithDefaultPortAndPath() throws {
        let t = try Target.parse("https://IdP.Example.com/.well-known/jwks.json")
        #expect(t.scheme == .https)
        #expect(t.host == "idp.example.com")
        #expect(t.port == 443)
        #expect(t.pathAndQuery == "/.well-known/jwks.json")
        #expect(t.hostHeader == "idp.example.com")
        #expect(!t.isIPv6Literal)
    }

    @Test func explicitPortAndQueryKeptFragmentDropped() throws {
        let t = try Target.parse("http://127.0.0.1:8080/keys?tenant=a&x=%20#frag")
        #expect(t.scheme == .http)
        #expect(t.port == 8080)
        #expect(t.pathAndQuery == "/keys?tenant=a&x=%20")
        #expect(t.hostHeader == "127.0.0.1:8080")
    }

    @Test func defaultPortIsLeftOutOfHostHeader() throws {
        #expect(try Target.parse("http://localhost:80/k").hostHeader == "localhost")
        #expect(try Target.parse("https://localhost:443/k").hostHeader == "localhost")
        #expect(try Target.parse("https://localhost:80/k").hostHeader == "localhost:80")
    }

    @Test func emptyPathBecomesSlash() throws {
        #expect(try Target.parse("https://idp.example").pathAndQuery == "/")
        #expect(try Target.parse("https://idp.example?x=1").pathAndQuery == "/?x=1")
        #expect(try Target.parse("HTTPS://idp.example#f").pathAndQuery == "/")
    }

    @Test func bracketedIPv6() throws {
        let t = try Target.parse("http://[::1]:9000/jwks")
        #expect(t.host == "::1")
        #expect(t.isIPv6Literal)
        #expect(t.port == 9000)
        #expect(t.hostHeader == "[::1]:9000")
        let u = try Target.parse("https://[2001:DB8::1]/jwks")
        #expect(u.host == "2001:db8::1")
        #expect(u.hostHeader == "[2001:db8::1]")
    }

    @Test(arguments: [
        ("ftp://idp/jwks", HTTPFetch.TargetError.unsupportedScheme),
        ("idp.example/jwks", .unsupportedScheme),
        ("https://user:pw@idp.example/jwks", .userinfo),
        ("https://idp.example@evil.example/jwks", .userinfo),
        ("https:///jwks", .emptyHost),
        ("https://:443/jwks", .emptyHost),
        ("https://idp example/jwks", .badHost),
        ("https://idp.example:/jwks", .badPort),
        ("https://idp.example:0/jwks", .badPort),
        ("https://idp.example:65536/jwks", .badPort),
        ("https://idp.example:12a/jwks", .badPort),
        ("https://idp.example:443443/jwks", .badPort),
        ("https://[::1/jwks", .badHost),
        ("https://[not-ip]/jwks", .badHost),
        ("https://[fe80::1%25eth0]/jwks", .badHost),
        ("https://[::1]x/jwks", .badHost),
        ("https://idp.example/a b", .badPath),
        ("https://idp.example/caf\u{e9}", .badPath),
    ])
    func refused(url: String, error: HTTPFetch.TargetError) {
        #expect(throws: error) { _ = try Target.parse(url) }
    }

    @Test func loopbackHosts() throws {
        #expect(try Target.parse("http://127.0.0.1/k").isLoopback)
        #expect(try Target.parse("http://127.8.9.10/k").isLoopback)
        #expect(try Target.parse("http://[::1]/k").isLoopback)
        #expect(try Target.parse("http://localhost:1/k").isLoopback)
        #expect(try !Target.parse("http://128.0.0.1/k").isLoopback)
        #expect(try !Target.parse("http://[::2]/k").isLoopback)
        #expect(try !Target.parse("http://localhost.example/k").isLoopback)
    }
}
