import Testing
@testable import GatewayAuth
@testable import GatewayCore
@testable import GatewayProxy

/// The request phase that decides who gets in, on a real config, real keys
/// and real parsed heads.
@Suite struct AuthPhaseTests {
    static let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    static let now: Int64 = 1_800_000_000

    static let configText = """
        [upstreams.app]
        servers = ["127.0.0.1:9000"]
        [[routes]]
        prefix = "/open/"
        upstream = "app"
        auth = "none"
        [[routes]]
        prefix = "/maybe/"
        upstream = "app"
        auth = "optional"
        [[routes]]
        prefix = "/admin/"
        upstream = "app"
        scopes = ["admin"]
        [[routes]]
        prefix = "/"
        upstream = "app"
        [tokens]
        issuers = ["https://issuer.test"]
        audiences = ["api"]
        forward_claims = { sub = "X-Auth-Subject", roles = "X-Auth-Roles" }
        [[keys]]
        kid = "k1"
        alg = "HS256"
        secret_env = "TEST_SECRET"
        """

    let runtime: RuntimeConfig
    let signer: TokenSigner

    init() throws {
        let env = ["TEST_SECRET": String(decoding: Self.secret, as: UTF8.self)]
        let config = try ConfigLoader.parse(text: Self.configText, path: "/tmp/test.conf", environment: env,
                                            coreCount: 1, fileExists: { _ in true })
        let keys = try KeyLoading.load(config, environment: env)
        runtime = try RuntimeConfig(config: config, keys: keys.keySet, generation: 1, registry: ServerRegistry())
        signer = TokenSigner(key: try SigningKey.hmac(secret: Self.secret, algorithm: .hs256, kid: "k1"))
    }

    func token(exp: Int64 = now + 600, extra: KeyValuePairs<String, JSONValue> = [:]) throws -> String {
        var claims = JSONObject(["iss": .string("https://issuer.test"), "aud": .string("api"),
                                 "sub": .string("alice"), "exp": .int(exp)])
        for (k, v) in extra { claims[k] = v }
        return try signer.signToString(claims: claims)
    }

    func head(_ path: String, authorization: String? = nil) throws -> HTTPHead {
        var text = "GET \(path) HTTP/1.1\r\nHost: gw.test\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        text += "\r\n"
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        let step = Array(text.utf8).withUnsafeBytes { parser.parse($0) }
        guard case .complete(let h, _) = step else { throw TestFailure.unparsed }
        return h
    }

    enum TestFailure: Error { case unparsed }

    func decide(_ path: String, authorization: String? = nil, now: Int64 = now,
                revocations: RevocationView = .empty) throws -> AuthPhase.Decision {
        let h = try head(path, authorization: authorization)
        let routeIndex = try #require(h.withRoutingPath { runtime.router.route(path: $0, host: nil) })
        return AuthPhase.decide(head: h, route: runtime.config.routes[routeIndex], runtime: runtime,
                                verifier: JWTVerifier(keys: runtime.keys, tokens: runtime.config.tokens),
                                cache: VerifiedTokenCache(capacity: 16), revocations: revocations, nowSeconds: now)
    }

    @Test func openRouteNeedsNoToken() throws {
        guard case .pass(.none, nil, _) = try decide("/open/x") else { Issue.record("expected pass"); return }
    }

    @Test func requiredRouteWithoutTokenIsMissing() throws {
        guard case .reject(let f) = try decide("/x") else { Issue.record("expected reject"); return }
        #expect(f == .missingToken)
        #expect(AuthPhase.label(f) == .missing)
    }

    @Test func optionalRouteWithoutTokenPasses() throws {
        guard case .pass(.none, nil, _) = try decide("/maybe/x") else { Issue.record("expected pass"); return }
    }

    @Test func optionalRouteWithBadTokenIsRefused() throws {
        guard case .reject(let f) = try decide("/maybe/x", authorization: "Bearer a.b.c") else {
            Issue.record("expected reject"); return
        }
        #expect(f.errorCode == "invalid_token")
    }

    @Test func revokedTokensAreRefusedOnEveryRoute() throws {
        let builder = RevocationViewBuilder()
        builder.add([Revocation(target: .jti("gone"), created: Self.now, until: Self.now + 60),
                     Revocation(target: .subject("bob", before: Self.now - 10), created: Self.now, until: Self.now + 60)])
        let view = builder.snapshot()
        let revoked = try token(extra: ["jti": .string("gone")])
        for path in ["/x", "/maybe/x"] {
            guard case .reject(let f) = try decide(path, authorization: "Bearer \(revoked)", revocations: view) else {
                Issue.record("expected reject on \(path)"); continue
            }
            #expect(f == .revoked && f.errorCode == "token_revoked" && AuthPhase.label(f) == .revoked)
        }
        let oldBob = try token(extra: ["sub": .string("bob"), "iat": .int(Self.now - 100)])
        guard case .reject(.revoked) = try decide("/x", authorization: "Bearer \(oldBob)", revocations: view) else {
            Issue.record("a token issued before the subject's `before` is revoked"); return
        }
        let newBob = try token(extra: ["sub": .string("bob"), "iat": .int(Self.now)])
        guard case .pass(.ok, _, _) = try decide("/x", authorization: "Bearer \(newBob)", revocations: view) else {
            Issue.record("a later token of the subject passes"); return
        }
        // The same revoked token through a warm verify cache is still refused.
        let cache = VerifiedTokenCache(capacity: 16)
        let h = try head("/x", authorization: "Bearer \(revoked)")
        let route = runtime.config.routes[try #require(h.withRoutingPath { runtime.router.route(path: $0, host: nil) })]
        let verifier = JWTVerifier(keys: runtime.keys, tokens: runtime.config.tokens)
        _ = AuthPhase.decide(head: h, route: route, runtime: runtime, verifier: verifier, cache: cache,
                             revocations: .empty, nowSeconds: Self.now)
        guard case .reject(.revoked) = AuthPhase.decide(head: h, route: route, runtime: runtime, verifier: verifier,
                                                        cache: cache, revocations: view, nowSeconds: Self.now) else {
            Issue.record("a cached verification is checked against the view too"); return
        }
    }

    @Test func validTokenPassesAndForwardsClaims() throws {
        let t = try token(extra: ["roles": .array([.string("a"), .string("b")])])
        guard case .pass(.ok, let verified?, _) = try decide("/x", authorization: "Bearer \(t)") else {
            Issue.record("expected pass"); return
        }
        #expect(verified.sub == "alice")
        let headers = AuthPhase.claimHeaders(verified, runtime: runtime)
        #expect(headers.map { String(decoding: $0.name, as: UTF8.self) } == ["X-Auth-Subject", "X-Auth-Roles"])
        #expect(headers.map { String(decoding: $0.value, as: UTF8.self) } == ["alice", "[\"a\",\"b\"]"])
    }

    @Test func expiredTokenIsLabelledExpired() throws {
        let t = try token(exp: Self.now - 3600)
        guard case .reject(let f) = try decide("/x", authorization: "Bearer \(t)") else {
            Issue.record("expected reject"); return
        }
        #expect(f == .expired)
        #expect(AuthPhase.label(f) == .expired)
    }

    @Test func missingScopeIsForbidden() throws {
        let t = try token()
        guard case .reject(let f) = try decide("/admin/x", authorization: "Bearer \(t)") else {
            Issue.record("expected reject"); return
        }
        #expect(f.httpStatus == 403)
        #expect(AuthPhase.label(f) == .forbidden)
    }

    @Test func scopePresentPasses() throws {
        let t = try token(extra: ["scope": .string("read admin")])
        guard case .pass(.ok, _, _) = try decide("/admin/x", authorization: "Bearer \(t)") else {
            Issue.record("expected pass"); return
        }
    }
}

@Suite struct CORSPreflightTests {
    func head(_ text: String) throws -> HTTPHead {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        guard case .complete(let h, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else {
            throw AuthPhaseTests.TestFailure.unparsed
        }
        return h
    }

    @Test func preflightIsRecognised() throws {
        let h = try head("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.test\r\n"
                         + "Access-Control-Request-Method: POST\r\n\r\n")
        #expect(AuthPhase.isCORSPreflight(h))
    }

    @Test func optionsWithoutPreflightHeadersIsNot() throws {
        #expect(!AuthPhase.isCORSPreflight(try head("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.test\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head("OPTIONS /x HTTP/1.1\r\nHost: a\r\n"
                                                   + "Access-Control-Request-Method: POST\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head("GET /x HTTP/1.1\r\nHost: a\r\nOrigin: o\r\n"
                                                   + "Access-Control-Request-Method: POST\r\n\r\n")))
    }

    /// A body or an Upgrade makes it an ordinary request that needs its token.
    @Test func preflightHasNoBodyAndNoUpgrade() throws {
        let base = "OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.test\r\nAccess-Control-Request-Method: POST\r\n"
        #expect(AuthPhase.isCORSPreflight(try head(base + "Content-Length: 0\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head(base + "Content-Length: 5\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head(base + "Transfer-Encoding: chunked\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head(base + "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n")))
        #expect(!AuthPhase.isCORSPreflight(try head(base + "Upgrade: h2c\r\n\r\n")))
    }
}
