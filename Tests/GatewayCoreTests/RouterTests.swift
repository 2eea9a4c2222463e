import Testing
@testable import GatewayCore

@Suite struct RouterTests {
    /// Named route table, indices in file order:
    /// 0 "/"            any host
    /// 1 "/public/"     any host
    /// 2 "/api/"        any host
    /// 3 "/api/"        api.example.com   (same prefix as 2, host wins)
    /// 4 "/api/v2/"     any host
    /// 5 "/"            [::1]              (IPv6 literal host)
    /// 6 "/admin"       Mixed.Example.COM  (config host not yet lower-cased)
    static let routes: [RouteConfig] = [
        RouteConfig(prefix: "/", host: nil, upstream: "app"),
        RouteConfig(prefix: "/public/", host: nil, upstream: "app"),
        RouteConfig(prefix: "/api/", host: nil, upstream: "app"),
        RouteConfig(prefix: "/api/", host: "api.example.com", upstream: "api"),
        RouteConfig(prefix: "/api/v2/", host: nil, upstream: "v2"),
        RouteConfig(prefix: "/", host: "::1", upstream: "local"),
        RouteConfig(prefix: "/admin", host: "Mixed.Example.COM", upstream: "admin"),
    ]
    let router = Router(routes: RouterTests.routes)

    func route(_ path: String, _ host: String?) -> Int? {
        router.route(path: Array(path.utf8), host: host.map { Array($0.utf8) })
    }

    @Test func longestPrefixWins() {
        #expect(route("/", "x") == 0)
        #expect(route("/other", "x") == 0)
        #expect(route("/public/a.css", "x") == 1)
        #expect(route("/public", "x") == 0)  // prefix is raw bytes: "/public" lacks the slash
        #expect(route("/api/items", "x") == 2)
        #expect(route("/api/v2/items", "x") == 4)
        #expect(route("/api/v2/items", "api.example.com") == 4)  // longer prefix beats host
    }

    @Test func hostBeatsHostlessAtSamePrefix() {
        #expect(route("/api/items", "api.example.com") == 3)
        #expect(route("/api/items", "web.example.com") == 2)
        #expect(route("/api/items", nil) == 2)
    }

    @Test func hostWithPortAndCase() {
        #expect(route("/api/x", "api.example.com:8443") == 3)
        #expect(route("/api/x", "API.Example.Com") == 3)
        #expect(route("/api/x", "API.EXAMPLE.COM:80") == 3)
        #expect(route("/api/x", "api.example.com.") == 3)  // FQDN trailing dot
        #expect(route("/api/x", "api.example.co") == 2)
        #expect(route("/api/x", "api.example.com.evil") == 2)
        #expect(route("/admin/x", "mixed.example.com") == 6)
        #expect(route("/admin/x", "MIXED.example.com:1") == 6)
    }

    @Test func ipv6Host() {
        #expect(route("/anything", "[::1]:8080") == 5)
        #expect(route("/anything", "[::1]") == 5)
        #expect(route("/anything", "[::2]:8080") == 0)
        #expect(route("/anything", "[::1") == 0)  // no closing bracket: never a host match
        #expect(route("/public/x", "[::1]:8080") == 1)
    }

    @Test func noMatchIsNil() {
        let r = Router(routes: [RouteConfig(prefix: "/only/", host: nil, upstream: "a"),
                                RouteConfig(prefix: "/h/", host: "h.example", upstream: "a")])
        #expect(r.route(path: Array("/other".utf8), host: Array("x".utf8)) == nil)
        #expect(r.route(path: Array("/h/x".utf8), host: Array("x".utf8)) == nil)
        #expect(r.route(path: Array("/h/x".utf8), host: nil) == nil)
        #expect(r.route(path: [], host: nil) == nil)
        #expect(Router(routes: []).route(path: Array("/".utf8), host: nil) == nil)
    }

    @Test func rawBytesNoDecoding() {
        // The router decodes nothing itself (the parser normalizes, see
        // routesOnTheNormalizedPath): given "/%70ublic/" it compares those bytes.
        #expect(route("/%70ublic/x", "x") == 0)
        #expect(route("/PUBLIC/x", "x") == 0)  // paths are case-sensitive
    }

    @Test func duplicateRouteFirstInFileWins() {
        let r = Router(routes: [RouteConfig(prefix: "/a", host: nil, upstream: "1"),
                                RouteConfig(prefix: "/a", host: nil, upstream: "2")])
        #expect(r.route(path: Array("/a".utf8), host: nil) == 0)
    }

    /// The security review's case: `/admin/` protected, `/` open. Every
    /// spelling an upstream reads as `/admin/...` must route to `/admin/`.
    static let adminRoutes: [RouteConfig] = [
        RouteConfig(prefix: "/admin/", host: nil, upstream: "app"),
        RouteConfig(prefix: "/", host: nil, upstream: "app"),
    ]

    func routeParsed(_ target: String, _ router: Router) -> Int? {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 8192)
        let text = "GET \(target) HTTP/1.1\r\nHost: gw.test\r\n\r\n"
        guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parse($0) }) else { return nil }
        return router.route(path: head.withRoutingPath { Array($0) }, host: Array("gw.test".utf8))
    }

    @Test(arguments: [
        ("/admin/x", 0), ("/%61dmin/x", 0), ("/%61%64%6D%69%6E/x", 0), ("//admin/x", 0), ("///admin//x", 0),
        ("/admin;p/x", 0), ("/;p/admin/x", 0), ("/admin;p/", 0), ("/admin/;p", 0), ("//;a/;b/admin;c/x", 0),
        ("http://gw.test//%61dmin;p/x", 0), ("/admin%2fx", nil), ("/admin/%2e%2e/x", nil),
        // not admin: %25 stays an escape; %3B is not a parameter separator;
        // matching is case-sensitive; "/admin" lacks the route's slash
        ("/%2561dmin/x", 1), ("/admin%3Bp/x", 1), ("/Admin/x", 1), ("/%41dmin/x", 1), ("/admin", 1), ("/admin;p", 1),
        ("/adminx/y", 1), ("/", 1),
    ] as [(String, Int?)])
    func routesOnTheNormalizedPath(target: String, expected: Int?) {
        #expect(routeParsed(target, Router(routes: Self.adminRoutes)) == expected)
    }

    @Test func parametersNeverHideAPrefixWithoutSlash() {
        let r = Router(routes: [RouteConfig(prefix: "/admin", host: nil, upstream: "a"),
                                RouteConfig(prefix: "/", host: nil, upstream: "b")])
        #expect(routeParsed("/admin;p", r) == 0)
        #expect(routeParsed("/;x/admin", r) == 0)
        #expect(routeParsed("/admi;n", r) == 1)
    }

    @Test func routeNames() {
        #expect(Router.routeNames(RouterTests.routes) == [
            "/", "/public/", "/api/", "api.example.com/api/", "/api/v2/", "[::1]/", "mixed.example.com/admin",
        ])
    }
}
