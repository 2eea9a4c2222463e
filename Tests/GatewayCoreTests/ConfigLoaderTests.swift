import Foundation
import Testing
@testable import GatewayCore

/// Config texts are written inline; files are "present" unless listed in
/// `missing`, through the injectable `fileExists`.
@Suite struct ConfigLoaderTests {
    static let path = "/etc/gateway/gateway.conf"

    static let upstream = """
        [upstreams.app]
        servers = ["127.0.0.1:9000"]

        """
    static let openRoute = """
        [[routes]]
        prefix = "/"
        upstream = "app"
        auth = "none"

        """
    static let auth = """
        [tokens]
        issuers = ["https://issuer.example"]
        audiences = ["api"]

        [[keys]]
        kid = "k1"
        alg = "ES256"
        private_key_file = "keys/k1.pem"

        """
    static let strongSecret = String(repeating: "s", count: 32)

    func parse(_ text: String, env: [String: String] = [:], missing: Set<String> = []) throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader.parse(text: text, path: Self.path, environment: env, coreCount: 4,
                               fileExists: { !missing.contains($0) })
    }

    func errors(_ text: String, env: [String: String] = [:], missing: Set<String> = []) throws -> [ConfigError] {
        try #require(throws: ConfigErrors.self) { try parse(text, env: env, missing: missing) }.errors
    }

    /// 1-based line of the `occurrence`th line containing `needle`.
    func line(_ needle: String, in text: String, occurrence: Int = 1) -> Int {
        var seen = 0
        for (i, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where l.contains(needle) {
            seen += 1
            if seen == occurrence { return i + 1 }
        }
        return -1
    }

    // MARK: - Defaults

    @Test func defaultsWhenSectionsAreAbsent() throws {
        let config = try parse(Self.upstream + Self.openRoute)
        var server = ServerConfig()
        server.workers = 4
        #expect(config.server == server)
        #expect(config.admin == AdminConfig())
        #expect(config.tokens == TokensConfig())
        #expect(config.keys.isEmpty)
        #expect(config.refresh == RefreshConfig())
        #expect(config.sessions == nil)
        #expect(config.store.stateDir == "/etc/gateway/state")
        #expect(config.store.redis == nil)
        #expect(config.sourcePath == Self.path)
        #expect(config.upstreams == ["app": UpstreamConfig(name: "app", servers: [SocketAddressSpec(host: "127.0.0.1", port: 9000)])])
        #expect(config.routes.count == 1)
        #expect(config.routes[0].auth == .none)
        #expect(config.routes[0].line == 3)
    }

    @Test func routeDefaults() throws {
        let text = Self.upstream + Self.auth + """
            [[routes]]
            prefix = "/api/"
            upstream = "app"
            """
        let route = try parse(text).routes[0]
        #expect(route.auth == .required)
        #expect(route.scopes == [])
        #expect(route.host == nil)
        #expect(!route.claimUpdates && !route.issueSession)
    }

    @Test func fullServerSection() throws {
        let text = """
            [server]
            listen = ["0.0.0.0:8080", "[::]:8443"]
            workers = 3
            tls_certificate = "certs/server.pem"
            tls_private_key = "/abs/server.key"
            max_header_bytes = 1024
            max_body_bytes = 1048576
            client_timeout = "1m30s"
            shutdown_timeout = "500ms"
            access_log = "text"
            max_connections = 5

            [admin]
            listen = "[::1]:9901"
            token_env = ""

            """ + Self.upstream + Self.openRoute
        let config = try parse(text)
        #expect(config.server.listen == [SocketAddressSpec(host: "0.0.0.0", port: 8080), SocketAddressSpec(host: "::", port: 8443)])
        #expect(config.server.workers == 3)
        #expect(config.server.tlsCertificate == "/etc/gateway/certs/server.pem")
        #expect(config.server.tlsPrivateKey == "/abs/server.key")
        #expect(config.server.maxHeaderBytes == 1024)
        #expect(config.server.maxBodyBytes == 1_048_576)
        #expect(config.server.clientTimeoutMs == 90_000)
        #expect(config.server.shutdownTimeoutMs == 500)
        #expect(config.server.accessLog == .text)
        #expect(config.server.maxConnections == 5)
        #expect(config.admin.listen == SocketAddressSpec(host: "::1", port: 9901))
        #expect(config.admin.tokenEnv == nil)
    }

    @Test func workersZeroMeansOnePerCore() throws {
        let config = try parse("[server]\nworkers = 0\n" + Self.upstream + Self.openRoute)
        #expect(config.server.workers == 4)
    }

    @Test func listenAcceptsASingleString() throws {
        let config = try parse("[server]\nlisten = \"127.0.0.1:0\"\n" + Self.upstream + Self.openRoute)
        #expect(config.server.listen == [SocketAddressSpec(host: "127.0.0.1", port: 0)])
    }

    // MARK: - Each kind of error names its line

    @Test func unknownKeyInServer() throws {
        let text = """
            [server]
            listen = ["127.0.0.1:8080"]
            listn = "127.0.0.1:8081"

            """ + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found == [ConfigError(file: Self.path, line: 3, message: "unknown key \"listn\" in [server]")])
    }

    @Test func unknownKeysEverywhere() throws {
        let text = """
            bogus = 1
            [upstreams.app]
            servers = ["127.0.0.1:9000"]
            retries = 3
            [[routes]]
            prefix = "/"
            upstream = "app"
            auth = "none"
            rewrite = "/x"
            [tokens]
            forward_claims = { sub = "X-Sub" }
            [tokens.extra]
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [1, 4, 9, 12])
        #expect(found[0].message == "unknown key \"bogus\" at the top level")
        #expect(found[1].message == "unknown key \"retries\" in [upstreams.app]")
        #expect(found[2].message == "unknown key \"rewrite\" in [routes[0]]")
    }

    @Test func wrongType() throws {
        let text = "[server]\nworkers = \"4\"\naccess_log = true\n" + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.line) == [2, 3])
        #expect(found[0].message == "server.workers: expected an integer, found a string")
        #expect(found[1].message == "server.access_log: expected a string, found a boolean")
    }

    @Test func wrongTypeOfSection() throws {
        let found = try errors("server = 5\n" + Self.upstream + Self.openRoute)
        #expect(found.map(\.line) == [1])
        #expect(found[0].message == "server: expected a table, found an integer")
    }

    @Test(arguments: ["5 minutes", "-1s", "10x", "30", "0s", ""])
    func badDuration(text: String) throws {
        let config = Self.upstream + Self.openRoute + """
            [server]
            shutdown_timeout = "15s"
            client_timeout = "\(text)"
            """
        let found = try errors(config)
        #expect(found.count == 1)
        #expect(found.first?.line == line("client_timeout", in: config))
        #expect(found.first?.message.hasPrefix("server.client_timeout: bad duration \"\(text)\"") == true)
    }

    @Test func durationMustBeAString() throws {
        let found = try errors(Self.upstream + Self.openRoute + "[refresh]\nwindow = 300\n")
        #expect(found.map(\.message) == ["refresh.window: expected a duration string such as \"30s\", found an integer"])
    }

    @Test func zeroDurationsOnlyWhereTheyMeanOff() throws {
        let text = """
            [upstreams.app]
            servers = ["127.0.0.1:9000"]
            health_check_interval = "0s"
            [tokens]
            leeway = "0s"
            """ + "\n" + Self.openRoute
        let config = try parse(text)
        #expect(config.upstreams["app"]?.healthCheckIntervalMs == 0)
        #expect(config.tokens.leewayMs == 0)
        let bad = "[upstreams.app]\nservers = [\"127.0.0.1:9000\"]\nconnect_timeout = \"0s\"\n" + Self.openRoute
        #expect(try errors(bad).map(\.line) == [3])
    }

    @Test func stuckByteTimeoutsHaveDefaultsAndRefuseZero() throws {
        let defaults = try parse(Self.upstream + Self.openRoute)
        #expect(defaults.server.sendTimeoutMs == 60_000)
        #expect(defaults.server.tunnelIdleTimeoutMs == 3_600_000)
        #expect(defaults.upstreams["app"]?.readTimeoutMs == 60_000)
        let text = """
            [server]
            send_timeout = "250ms"
            tunnel_idle_timeout = "2m"
            [upstreams.app]
            servers = ["127.0.0.1:9000"]
            read_timeout = "1s500ms"
            """ + "\n" + Self.openRoute
        let config = try parse(text)
        #expect(config.server.sendTimeoutMs == 250)
        #expect(config.server.tunnelIdleTimeoutMs == 120_000)
        #expect(config.upstreams["app"]?.readTimeoutMs == 1_500)
        // A timeout of zero would close every connection at once: refused, on its line.
        let bad = "[server]\nsend_timeout = \"0s\"\n[upstreams.app]\nservers = [\"127.0.0.1:9000\"]\n"
            + "read_timeout = \"0s\"\n" + Self.openRoute
        let found = try errors(bad)
        #expect(found.map(\.line) == [2, 5])
        #expect(found.allSatisfy { $0.message.contains("bad duration") })
    }

    @Test func unknownUpstreamPointsAtItsKeyInTheRightBlock() throws {
        let text = Self.upstream + """
            [[routes]]
            prefix = "/a/"
            upstream = "app"
            auth = "none"

            [[routes]]
            prefix = "/b/"
            upstream = "app"
            auth = "none"

            [[routes]]
            prefix = "/c/"
            upstream = "ap"
            auth = "none"
            """
        let found = try errors(text)
        #expect(found.count == 1)
        #expect(found[0].line == line("upstream = \"ap\"", in: text))
        #expect(found[0].message == "routes[2].upstream: unknown upstream \"ap\" (defined: \"app\")")
    }

    @Test func missingKeyPointsAtBlockHeader() throws {
        let text = Self.upstream + Self.openRoute + """
            [[routes]]
            prefix = "/x/"
            auth = "none"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("[[routes]]", in: text, occurrence: 2)])
        #expect(found[0].message == "routes[1]: missing key \"upstream\"")
    }

    @Test func duplicateRoute() throws {
        let text = Self.upstream + """
            [[routes]]
            prefix = "/"
            host = "Example.COM"
            upstream = "app"
            auth = "none"

            [[routes]]
            prefix = "/"
            upstream = "app"
            auth = "none"

            [[routes]]
            prefix = "/"
            host = "example.com:8443"
            upstream = "app"
            auth = "none"
            """
        let found = try errors(text)
        let first = line("[[routes]]", in: text)
        #expect(found.map(\.line) == [line("[[routes]]", in: text, occurrence: 3)])
        #expect(found[0].message == "duplicate route: prefix \"/\" with host \"example.com\" is already routed at line \(first)")
    }

    @Test func sameRouteWithAndWithoutHostIsFine() throws {
        let text = Self.upstream + Self.openRoute + """
            [[routes]]
            prefix = "/"
            host = "API.example.com:8080"
            upstream = "app"
            auth = "none"
            [[routes]]
            prefix = "/"
            host = "[::1]:8080"
            upstream = "app"
            auth = "none"
            """
        let routes = try parse(text).routes
        #expect(routes.map(\.host) == [nil, "api.example.com", "[::1]"])
        #expect(routes.map(\.line) == [3, line("API.", in: text) - 2, line("[::1]", in: text) - 2])
    }

    @Test func badAddressPointsAtTheElement() throws {
        let text = """
            [server]
            listen = [
              "127.0.0.1:8080",
              "localhost",
              "[::1]:99999",
            ]

            """ + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.line) == [4, 5])
        #expect(found[0].message.hasPrefix("server.listen[1]: \"localhost\": missing port"))
        #expect(found[1].message == "server.listen[2]: \"[::1]:99999\": bad port \"99999\" (0-65535)")
    }

    @Test func emptyServers() throws {
        let text = "[upstreams.app]\nservers = []\n" + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.line) == [2])
        #expect(found[0].message == "upstreams.app.servers: at least one server is required")
    }

    @Test func outOfRangeIntegers() throws {
        let text = "[server]\nworkers = -1\nmax_header_bytes = 512\n" + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.line) == [2, 3])
        #expect(found[0].message == "server.workers: -1 is out of range (between 0 and 1024)")
    }

    @Test func missingFile() throws {
        let text = Self.upstream + Self.openRoute + Self.auth
        let found = try errors(text, missing: ["/etc/gateway/keys/k1.pem"])
        #expect(found.map(\.line) == [line("private_key_file", in: text)])
        #expect(found[0].message == "keys[0].private_key_file: file not found: /etc/gateway/keys/k1.pem")
    }

    @Test func weakSecret() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "hs"
            alg = "HS256"
            secret_env = "GW_SECRET"
            """
        let found = try errors(text, env: ["GW_SECRET": "short"])
        #expect(found.map(\.line) == [line("secret_env", in: text)])
        #expect(found[0].message == "keys[0].secret_env: weak HMAC secret: GW_SECRET holds 5 bytes, at least 32 are required")
        let unset = try errors(text)
        #expect(unset.map(\.message) == ["keys[0].secret_env: environment variable GW_SECRET is not set"])
        let config = try parse(text, env: ["GW_SECRET": Self.strongSecret])
        #expect(config.keys == [KeyConfig(kid: "hs", alg: "HS256", source: .secretEnv("GW_SECRET"), line: line("[[keys]]", in: text))])
    }

    @Test(arguments: ["http://idp.example.com/jwks.json", "http://10.0.0.1/jwks", "http://[::2]:80/jwks",
                      "ftp://idp.example.com/jwks", "idp.example.com/jwks", "https://user:pw@idp.example.com/",
                      "http://127.0.0.1.evil.example/jwks"])
    func jwksURLRefused(url: String) throws {
        let text = Self.upstream + Self.openRoute + "[[keys]]\njwks_url = \"\(url)\"\n"
        let found = try errors(text)
        #expect(found.map(\.line) == [line("jwks_url", in: text)])
    }

    @Test(arguments: ["https://idp.example.com/.well-known/jwks.json", "http://127.0.0.1:8081/jwks",
                      "http://127.9.9.9/jwks", "http://[::1]:8081/jwks", "http://localhost/jwks",
                      "HTTP://LOCALHOST:80/jwks", "https://[2001:db8::1]/jwks"])
    func jwksURLAccepted(url: String) throws {
        let text = Self.upstream + Self.openRoute + "[[keys]]\njwks_url = \"\(url)\"\n"
        let keys = try parse(text).keys
        #expect(keys.map(\.source) == [.jwksURL(url: url, refreshIntervalMs: 300_000, fetchTimeoutMs: 2_000, caFile: nil)])
    }

    @Test func jwksURLOptions() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            alg = "RS256"
            jwks_url = "https://idp.example.com/jwks"
            refresh_interval = "1m"
            fetch_timeout = "500ms"
            ca_file = "ca.pem"
            """
        let keys = try parse(text).keys
        #expect(keys.map(\.source) == [.jwksURL(url: "https://idp.example.com/jwks", refreshIntervalMs: 60_000,
                                                fetchTimeoutMs: 500, caFile: "/etc/gateway/ca.pem")])
        let misplaced = Self.upstream + Self.openRoute + """
            [[keys]]
            jwks_file = "jwks.json"
            refresh_interval = "1m"
            """
        let found = try errors(misplaced)
        #expect(found.map(\.message) == ["keys[0].refresh_interval: applies only to jwks_url"])
    }

    @Test func twoMaterialsInOneKey() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "k"
            alg = "ES256"
            public_key_file = "k.pub.pem"
            private_key_file = "k.pem"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("private_key_file", in: text)])
        #expect(found[0].message == "keys[0].private_key_file: only one key material per [[keys]] entry; public_key_file is already set")
    }

    @Test func noMaterial() throws {
        let text = Self.upstream + Self.openRoute + "[[keys]]\nkid = \"k\"\nalg = \"ES256\"\n"
        let found = try errors(text)
        #expect(found.map(\.line) == [line("[[keys]]", in: text)])
        #expect(found[0].message.hasPrefix("keys[0]: missing key material"))
    }

    @Test func algorithmChecks() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "a"
            public_key_file = "a.pem"
            [[keys]]
            kid = "b"
            alg = "none"
            public_key_file = "b.pem"
            [[keys]]
            kid = "c"
            alg = "HS256"
            public_key_file = "c.pem"
            [[keys]]
            kid = "d"
            alg = "RS256"
            secret_file = "d.secret"
            [[keys]]
            kid = "e"
            jwks_file = "e.json"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("[[keys]]", in: text), line("alg = \"none\"", in: text),
                                      line("alg = \"HS256\"", in: text), line("alg = \"RS256\"", in: text)])
        #expect(found[0].message.hasPrefix("keys[0]: missing key \"alg\""))
        #expect(found[1].message.hasPrefix("keys[1].alg: unsupported alg \"none\""))
    }

    @Test func duplicateKidAndMissingKid() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "a"
            alg = "ES256"
            public_key_file = "a.pem"
            [[keys]]
            kid = "a"
            alg = "ES256"
            public_key_file = "b.pem"
            [[keys]]
            alg = "ES256"
            public_key_file = "c.pem"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("kid = \"a\"", in: text, occurrence: 2), line("[[keys]]", in: text, occurrence: 3)])
        #expect(found[0].message == "keys[1].kid: duplicate kid \"a\" (first at line \(line("kid = \"a\"", in: text)))")
        #expect(found[1].message == "kid is required when there are several [[keys]] entries")
    }

    @Test func severalErrorsAllReportedInLineOrder() throws {
        let text = """
            [server]
            workers = "many"
            client_timeout = "5 minutes"
            colour = "blue"

            [upstreams.app]
            servers = ["127.0.0.1:9000"]

            [[routes]]
            prefix = "api"
            upstream = "nope"

            [tokens]
            issuers = ["https://issuer.example"]
            audiences = ["api"]

            [[keys]]
            kid = "k1"
            alg = "ES256"
            private_key_file = "keys/missing.pem"
            """
        let found = try errors(text, missing: ["/etc/gateway/keys/missing.pem"])
        #expect(found.map(\.line) == [2, 3, 4, 10, 11, 20])
        #expect(ConfigErrors(found).description.split(separator: "\n").count == 6)
        #expect(found.allSatisfy { $0.file == Self.path })
    }

    @Test func syntaxErrorHasTOMLLine() throws {
        let text = "[server]\nworkers = 2\nlisten = [\"a:1\"\n\n[admin]\n"
        let found = try errors(text)
        #expect(found.count == 1)
        #expect(found[0].message.hasPrefix("TOML syntax: "))
        #expect(found[0].line >= 3 && found[0].line <= 5)
        let dup = try errors("[server]\nworkers = 1\nworkers = 2\n")
        #expect(dup.map(\.line) == [3])
    }

    @Test func noRoutes() throws {
        #expect(try errors(Self.upstream).map(\.message) == ["no [[routes]]: at least one route is required"])
        let asTable = try errors(Self.upstream + "[routes]\nprefix = \"/\"\n")
        #expect(asTable.map(\.line) == [3])
        #expect(asTable[0].message == "routes: expected [[routes]] entries, found a table")
    }

    @Test func inlineArrayOfRoutes() throws {
        // Before any table header, or it would belong to that table.
        let text = """
            routes = [
              { prefix = "/a/", upstream = "app", auth = "none" },
              { prefix = "/b/", upstream = "zzz", auth = "none" },
            ]

            """ + Self.upstream
        let found = try errors(text)
        #expect(found.map(\.line) == [line("zzz", in: text)])
    }

    @Test func prefixMustStartWithSlash() throws {
        let text = Self.upstream + "[[routes]]\nprefix = \"api/\"\nupstream = \"app\"\nauth = \"none\"\n"
        let found = try errors(text)
        #expect(found.map(\.message) == ["routes[0].prefix: must start with \"/\""])
    }

    @Test func authModesAndFlags() throws {
        let text = Self.upstream + Self.auth + """
            [refresh]
            signing_key = "k1"
            [sessions]
            [[routes]]
            prefix = "/login"
            upstream = "app"
            auth = "none"
            issue_session = true
            [[routes]]
            prefix = "/me"
            upstream = "app"
            auth = "optional"
            scopes = ["read", "profile"]
            claim_updates = true
            [[routes]]
            prefix = "/x"
            upstream = "app"
            auth = "sometimes"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("sometimes", in: text)])
        #expect(found[0].message == "routes[2].auth: unknown value \"sometimes\" (one of \"required\", \"optional\", \"none\")")
        let cut = try #require(text.firstRange(of: "[[routes]]\nprefix = \"/x\""))
        let config = try parse(String(text[..<cut.lowerBound]))
        #expect(config.routes[0].issueSession && config.routes[0].auth == .none)
        #expect(config.routes[1].auth == .optional && config.routes[1].scopes == ["read", "profile"] && config.routes[1].claimUpdates)
    }

    @Test func routeFeaturesNeedTheirTables() throws {
        let text = Self.upstream + """
            [[routes]]
            prefix = "/login"
            upstream = "app"
            auth = "none"
            scopes = ["x"]
            issue_session = true
            claim_updates = true
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("scopes", in: text), line("issue_session", in: text), line("claim_updates", in: text)])
        #expect(found.map(\.message) == [
            "routes[0].scopes: scopes are never checked on a route with auth = \"none\"",
            "routes[0].issue_session: needs a [sessions] table",
            "routes[0].claim_updates: needs [refresh] signing_key to reissue tokens",
        ])
    }

    @Test func nulByteIsRefused() throws {
        let found = try errors("[server]\nworkers = 1\u{0}\n")
        #expect(found == [ConfigError(file: Self.path, line: 2, message: "NUL byte in file")])
    }

    /// Found by ConfigFuzz: toml++ asserts (aborts the process) on a table
    /// header whose name starts with a byte that cannot start a key; the
    /// loader refuses such text as a syntax error on the header's line.
    @Test func tableHeaderWithoutAKeyIsASyntaxError() throws {
        for header in ["[*]", "[", "[ \t!x]", "[[[routes]]]", "[[ =]]", "[\u{00e9}]"] {
            let found = try errors(Self.upstream + header + "\n" + Self.openRoute)
            #expect(found.count == 1, "\(header)")
            #expect(found.first?.line == 3, "\(header)")
            #expect(found.first?.message.hasPrefix("TOML syntax: ") == true, "\(header)")
        }
        // Header-like text inside values is not a header; quoted names are keys.
        let text = Self.upstream + Self.openRoute
            + "[tokens]\nissuers = [\n[\"x\"],\n]\naudiences = ['''\n[*]\n''']\n[ \"admin\" ]\nlisten = \"127.0.0.1:9999\"\n"
        let found = try errors(text)
        #expect(!found.contains { $0.message.hasPrefix("TOML syntax") })
        #expect(try parse(Self.upstream + Self.openRoute + "[ \"admin\" ]\nlisten = \"127.0.0.1:9999\"\n")
                    .admin.listen.port == 9999)
    }

    /// Found by ConfigFuzz: toml++ also asserts on an array element that
    /// starts with `}` or a Unicode line break (U+0085, U+2028, U+2029).
    @Test func arrayElementStartingWithATerminatorIsASyntaxError() throws {
        for element in ["}", "\u{2028}", "\u{2029}", "\u{85}", "1, }"] {
            let text = Self.upstream + Self.openRoute + "[tokens]\nissuers = [\n  \"a\",\n" + element + "]\n"
            let found = try errors(text)
            #expect(found.count == 1, "\(element.debugDescription)")
            #expect(found.first?.line == 10, "\(element.debugDescription)")
            #expect(found.first?.message.hasPrefix("TOML syntax: ") == true, "\(element.debugDescription)")
        }
        // Inline tables in arrays still close with `}`.
        let routes = "routes = [\n  { prefix = \"/\", upstream = \"app\", auth = \"none\" },\n]\n" + Self.upstream
        #expect(try parse(routes).routes.map(\.prefix) == ["/"])
    }

    /// Found by ConfigFuzz: the line scanner read a leading byte-order mark
    /// as part of the first line and skipped it, so that line's header went
    /// unseen (by the check above too) and its keys got wrong lines.
    @Test func byteOrderMarkOpensTheFirstLine() throws {
        let bom = "\u{FEFF}"
        let header = try errors(bom + "[!x]\n" + Self.upstream + Self.openRoute)
        #expect(header.count == 1 && header.first?.line == 1)
        #expect(header.first?.message.hasPrefix("TOML syntax: ") == true)
        let unknown = try errors(bom + "[server]\nbogus = 1\n" + Self.upstream + Self.openRoute)
        #expect(unknown == [ConfigError(file: Self.path, line: 2, message: "unknown key \"bogus\" in [server]")])
    }

    @Test func crlfLineEndings() throws {
        let text = (Self.upstream + Self.openRoute + "[server]\nbogus = 1\n").replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try errors(text).map(\.line) == [line("bogus", in: Self.upstream + Self.openRoute + "[server]\nbogus = 1\n")])
    }

    @Test func authenticatingRoutesNeedTokensAndKeys() throws {
        let text = Self.upstream + "[[routes]]\nprefix = \"/\"\nupstream = \"app\"\n"
        let found = try errors(text)
        #expect(found.map(\.line) == [3, 3])
        #expect(found[0].message.hasPrefix("[tokens] is missing"))
        #expect(found[1].message.hasPrefix("no [[keys]] entry"))
        let emptyIssuers = text + "[tokens]\nissuers = []\naudiences = [\"api\"]\n[[keys]]\nalg = \"ES256\"\npublic_key_file = \"k.pem\"\n"
        #expect(try errors(emptyIssuers).map(\.line) == [line("issuers", in: emptyIssuers)])
    }

    // MARK: - [tokens]

    @Test func forwardClaimsKeepFileOrder() throws {
        let text = Self.upstream + Self.openRoute + """
            [tokens]
            forward_claims = { zeta = "X-Zeta", alpha = "X-Alpha", "https://example.com/role" = "X-Role", mid = "X-Mid" }
            """
        let claims = try parse(text).tokens.forwardClaims
        #expect(claims.map(\.claim) == ["zeta", "alpha", "https://example.com/role", "mid"])
        #expect(claims.map(\.header) == ["X-Zeta", "X-Alpha", "X-Role", "X-Mid"])
        let asTable = Self.upstream + Self.openRoute + """
            [tokens.forward_claims]
            sub = "X-Auth-Subject"
            email = "X-Auth-Email"
            act = "X-Act"
            """
        #expect(try parse(asTable).tokens.forwardClaims.map(\.claim) == ["sub", "email", "act"])
    }

    @Test func forwardClaimsHeaderChecks() throws {
        let text = Self.upstream + Self.openRoute + """
            [tokens.forward_claims]
            sub = "X Auth"
            email = "Authorization"
            a = "X-A"
            b = "x-a"
            c = 1
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("sub =", in: text), line("email", in: text), line("b = \"x-a\"", in: text), line("c =", in: text)])
    }

    @Test func tokenSourcesAndLists() throws {
        let text = Self.upstream + Self.openRoute + """
            [tokens]
            issuers = ["https://a.example", "https://b.example"]
            audiences = ["api", "web"]
            leeway = "10s"
            sources = ["header", "cookie:gw_token", "query:access_token"]
            """
        let tokens = try parse(text).tokens
        #expect(tokens.issuers == ["https://a.example", "https://b.example"])
        #expect(tokens.audiences == ["api", "web"])
        #expect(tokens.leewayMs == 10_000)
        #expect(tokens.sources == [.header, .cookie("gw_token"), .query("access_token")])
        let bad = Self.upstream + Self.openRoute + "[tokens]\nsources = [\"header\", \"cookie:\", \"form:x\", \"header\", 3]\n"
        let found = try errors(bad)
        #expect(found.map(\.message) == ["tokens.sources[4]: expected a string, found an integer"])
        let bad2 = Self.upstream + Self.openRoute + "[tokens]\nsources = [\"header\", \"cookie:\", \"form:x\", \"header\"]\n"
        #expect(try errors(bad2).count == 3)
    }

    // MARK: - [refresh], [sessions], [store]

    @Test func refreshSection() throws {
        let text = Self.upstream + Self.openRoute + Self.auth + """
            [refresh]
            enabled = true
            window = "2m"
            ttl = "10m"
            max_session = "1d"
            max_refreshes = 7
            header = "X-New-Token"
            signing_key = "k1"
            """
        let refresh = try parse(text).refresh
        var expected = RefreshConfig()
        expected.enabled = true
        expected.windowMs = 120_000
        expected.ttlMs = 600_000
        expected.maxSessionMs = 86_400_000
        expected.maxRefreshes = 7
        expected.header = "X-New-Token"
        expected.signingKey = "k1"
        #expect(refresh == expected)
    }

    @Test func refreshErrors() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "pub"
            alg = "ES256"
            public_key_file = "pub.pem"
            [refresh]
            enabled = true
            window = "10m"
            ttl = "5m"
            max_refreshes = 0
            header = "X Token"
            signing_key = "pub"
            """
        let found = try errors(text)
        #expect(found.map(\.line) == [line("ttl =", in: text), line("max_refreshes", in: text),
                                      line("header =", in: text), line("signing_key", in: text)])
        #expect(found[3].message.hasPrefix("refresh.signing_key: key \"pub\" (line \(line("[[keys]]", in: text))) cannot sign"))
        let unknown = Self.upstream + Self.openRoute + "[refresh]\nenabled = true\nsigning_key = \"gw-9\"\n"
        #expect(try errors(unknown).map(\.message) == ["refresh.signing_key: no [[keys]] entry has kid \"gw-9\""])
    }

    @Test func sessionsAndStore() throws {
        let text = Self.upstream + Self.openRoute + Self.auth + """
            [refresh]
            signing_key = "k1"
            [sessions]
            path = "/session/"
            refresh_ttl = "1d"
            max_age = "7d"
            grace = "0s"
            access_ttl = "5m"
            cookie = "gw_refresh"
            [store]
            state_dir = "/var/lib/gateway"
            redis = "redis://127.0.0.1:6379/0"
            redis_password_env = "REDIS_PW"
            redis_prefix = "gw:"
            """
        let config = try parse(text)
        var sessions = SessionsConfig()
        sessions.path = "/session/"
        sessions.refreshTTLMs = 86_400_000
        sessions.maxAgeMs = 7 * 86_400_000
        sessions.graceMs = 0
        sessions.accessTTLMs = 300_000
        sessions.cookie = "gw_refresh"
        #expect(config.sessions == sessions)
        var store = StoreConfig()
        store.stateDir = "/var/lib/gateway"
        store.redis = "redis://127.0.0.1:6379/0"
        store.redisPasswordEnv = "REDIS_PW"
        store.redisPrefix = "gw:"
        #expect(config.store == store)
    }

    @Test func sessionsNeedASigningKey() throws {
        let text = Self.upstream + Self.openRoute + "[sessions]\npath = \"auth\"\nttl = \"1h\"\n[store]\nredis = \"http://x\"\n"
        let found = try errors(text)
        let header = line("[sessions]", in: text)
        #expect(found.map(\.line) == [header, header + 1, header + 2, line("redis", in: text)])
    }

    // MARK: - Paths and TLS

    @Test func tlsNeedsBoth() throws {
        let text = "[server]\ntls_certificate = \"cert.pem\"\n" + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.message) == ["server.tls_certificate: tls_private_key must be set too (both or neither)"])
        #expect(found.map(\.line) == [2])
    }

    @Test func relativePathsResolveAgainstTheConfigDirectory() throws {
        let text = Self.upstream + Self.openRoute + """
            [[keys]]
            kid = "a"
            alg = "ES256"
            public_key_file = "./keys/a.pem"
            [[keys]]
            kid = "b"
            alg = "HS512"
            secret_file = "/run/secrets/b"
            [[keys]]
            kid = "c"
            jwks_file = "../shared/jwks.json"
            """
        let sources = try parse(text).keys.map(\.source)
        #expect(sources == [.publicKeyFile("/etc/gateway/keys/a.pem"), .secretFile("/run/secrets/b"),
                            .jwksFile("/etc/gateway/../shared/jwks.json")])
    }

    @Test func adminListenMayNotCollide() throws {
        let text = "[server]\nlisten = [\"127.0.0.1:9901\"]\n[admin]\nlisten = \"127.0.0.1:9901\"\ntoken_env = \"1BAD\"\n"
            + Self.upstream + Self.openRoute
        let found = try errors(text)
        #expect(found.map(\.line) == [4, 5])
    }
}
