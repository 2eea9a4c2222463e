import Testing
@testable import GatewayCore

@Suite struct ConfigSummaryTests {
    static let secret = "a-very-secret-value-that-is-long-enough-1234"
    static let text = """
        [server]
        listen = ["127.0.0.1:8080", "[::1]:8080"]
        workers = 2
        [admin]
        token_env = ""
        [upstreams.app]
        servers = ["127.0.0.1:9000", "127.0.0.1:9001"]
        [upstreams.billing]
        servers = ["10.0.0.5:80"]
        health_check_interval = "0s"
        [[routes]]
        prefix = "/public/"
        upstream = "app"
        auth = "none"
        [[routes]]
        prefix = "/billing/"
        host = "Pay.Example.com"
        upstream = "billing"
        scopes = ["billing:read"]
        claim_updates = true
        [tokens]
        issuers = ["https://auth.example.com"]
        audiences = ["api"]
        forward_claims = { sub = "X-Auth-Subject", email = "X-Auth-Email" }
        [[keys]]
        kid = "hs"
        alg = "HS256"
        secret_env = "GW_HS"
        [[keys]]
        kid = "idp"
        jwks_url = "https://idp.example.com/jwks"
        [refresh]
        enabled = true
        signing_key = "hs"
        """

    @Test func summarizesWithoutSecrets() throws {
        let config = try ConfigLoader.parse(text: Self.text, path: "/etc/gw/gateway.conf",
                                            environment: ["GW_HS": Self.secret], coreCount: 8, fileExists: { _ in true })
        let summary = config.summary()
        #expect(!summary.contains(Self.secret))
        let lines = summary.split(separator: "\n").map(String.init)
        #expect(lines.contains("listen: 127.0.0.1:8080, [::1]:8080 (plain HTTP)"))
        #expect(lines.contains("workers: 2; max connections 10000"))
        #expect(lines.contains("admin: 127.0.0.1:9901 (admin API off)"))
        #expect(lines.contains { $0.hasPrefix("  app: 127.0.0.1:9000, 127.0.0.1:9001 (connect 2s, response 30s, read 1m,") })
        #expect(lines.contains { $0.hasPrefix("limits: ") && $0.contains("; send timeout 1m; tunnel idle timeout 1h;") })
        #expect(lines.contains { $0.hasPrefix("  billing: 10.0.0.5:80") && $0.hasSuffix("health check off)") })
        #expect(lines.contains("  PREFIX     HOST             UPSTREAM  AUTH      SCOPES        FLAGS"))
        #expect(lines.contains("  /public/   *                app       none      -             -"))
        #expect(lines.contains("  /billing/  pay.example.com  billing   required  billing:read  claim_updates"))
        #expect(lines.contains("  forward claims: sub -> X-Auth-Subject, email -> X-Auth-Email"))
        #expect(lines.contains("keys: 2"))
        #expect(lines.contains("  hs HS256 secret_env $GW_HS"))
        #expect(lines.contains("  idp (alg from JWKs) jwks_url https://idp.example.com/jwks (refresh 5m, timeout 2s)"))
        #expect(lines.contains { $0.hasPrefix("refresh: on (window 5m, ttl 15m, max session 3d") })
        #expect(lines.contains("sessions: off"))
        #expect(lines.contains("store: none (stateless: no [store] or [sessions])"))
    }

    @Test func storeTableOpensTheEmbeddedStore() throws {
        let text = "[upstreams.a]\nservers = [\"h:1\"]\n[[routes]]\nprefix = \"/\"\nupstream = \"a\"\nauth = \"none\"\n[store]\n"
        let config = try ConfigLoader.parse(text: text, path: "/etc/gw/gateway.conf", environment: [:], coreCount: 1)
        #expect(config.hasStore)
        #expect(config.summary().contains("\nstore: embedded in /etc/gw/state\n"))
    }

    @Test func refreshOff() throws {
        let config = try ConfigLoader.parse(text: "[upstreams.a]\nservers = [\"h:1\"]\n[[routes]]\nprefix = \"/\"\nupstream = \"a\"\nauth = \"none\"\n",
                                            path: "/x/gateway.conf", environment: [:], coreCount: 1)
        #expect(config.summary().contains("\nrefresh: off\n"))
    }
}
