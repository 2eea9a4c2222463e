import Testing
@testable import GatewayCore

@Suite struct ConfigLineMapTests {
    static let text = """
        # comment [not.a.table]
        top = 1

        [server]
        listen = [
          "127.0.0.1:1",   # comment with = sign
          "127.0.0.1:2",
        ]
        note = \"\"\"
        fake = "not a key"
        [fake.table]
        \"\"\"
        raw = '''
        [[routes]]
        '''
        workers = 2

        [upstreams.app]
        servers = ["a:1"]

        [[routes]]
        prefix = "/a"
        "quoted key" = 1

        [[routes]]
        prefix = "/b"
        upstream = "app"

        [[routes]]
        upstream = "app"
        meta.inner = { z = 1, a = 2, m = "}" }

        [tokens]
        forward_claims = { sub = "X-Sub", email = "X-Email", act = "X-Act" }

        [[keys]]
        kid = "a"
        [[keys]]
        kid = "b"
        [[keys.extra]]
        x = 1
        """

    let map = ConfigLineMap(text: Self.text)

    func path(_ parts: Any...) -> TOMLPath {
        TOMLPath(parts.map { part in
            if let i = part as? Int { return .index(i) }
            return .key(String(describing: part))
        })
    }

    @Test func keysAndHeaders() {
        #expect(map.exactLine(path("top")) == 2)
        #expect(map.exactLine(path("server")) == 4)
        #expect(map.exactLine(path("server", "listen")) == 5)
        #expect(map.exactLine(path("server", "listen", 1)) == 7)
        #expect(map.exactLine(path("server", "workers")) == 16)
        #expect(map.exactLine(path("upstreams", "app")) == 18)
        #expect(map.exactLine(path("upstreams", "app", "servers")) == 19)
    }

    @Test func stringsDoNotCreateKeys() {
        #expect(map.exactLine(path("fake")) == nil)
        #expect(map.exactLine(path("server", "fake")) == nil)
        #expect(map.exactLine(path("routes", 3)) == nil)
    }

    @Test func arraysOfTablesAreCountedInOrder() {
        #expect(map.exactLine(path("routes", 0)) == 21)
        #expect(map.exactLine(path("routes", 0, "quoted key")) == 23)
        #expect(map.exactLine(path("routes", 1)) == 25)
        #expect(map.exactLine(path("routes", 1, "upstream")) == 27)
        #expect(map.exactLine(path("routes", 2, "upstream")) == 30)
        #expect(map.exactLine(path("routes", 2, "meta", "inner", "m")) == 31)
        #expect(map.exactLine(path("keys", 1, "extra", 0, "x")) == 41)
    }

    @Test func missingKeysFallBackToTheirTable() {
        #expect(map.line(path("routes", 2, "prefix")) == 29)
        #expect(map.line(path("refresh", "window")) == 1)
        #expect(map.line(path("upstreams", "app", "connect_timeout")) == 18)
    }

    @Test func implicitTablesPointAtFirstMention() {
        #expect(map.line(path("upstreams")) == 18)
    }

    @Test func keepsFileOrder() {
        #expect(map.keysInOrder(path("tokens", "forward_claims")) == ["sub", "email", "act"])
        #expect(map.keysInOrder(path("routes", 2, "meta", "inner")) == ["z", "a", "m"])
        #expect(map.keysInOrder(.root) == ["top", "server", "upstreams", "routes", "tokens", "keys"])
    }

    @Test func pathDescription() {
        #expect(path("routes", 2, "upstream").description == "routes[2].upstream")
        #expect(path("tokens", "forward_claims", "a b").description == "tokens.forward_claims.\"a b\"")
    }
}
