import Testing
@testable import GatewayAuth

@Suite struct VerifiedTokenCacheTests {
    static func value(exp: Int64, sub: String = "s") -> VerifiedToken {
        VerifiedToken(claims: JSONObject(), sub: sub, exp: exp, iat: nil, authTime: nil, rfc: nil, jti: nil,
                      sid: nil, kid: nil, algorithm: .hs256, expiredWithinLeeway: false)
    }

    func lookup(_ cache: VerifiedTokenCache, _ token: String, now: Int64) -> VerifiedToken? {
        Array(token.utf8).withUnsafeBytes { cache.lookup($0, now: now) }
    }

    func insert(_ cache: VerifiedTokenCache, _ token: String, _ v: VerifiedToken, now: Int64) {
        Array(token.utf8).withUnsafeBytes { cache.insert($0, v, now: now) }
    }

    @Test func hitsMissesAndExpiry() {
        let cache = VerifiedTokenCache(capacity: 4)
        insert(cache, "a.b.c", Self.value(exp: 100, sub: "x"), now: 10)
        #expect(lookup(cache, "a.b.c", now: 50)?.sub == "x")
        #expect(lookup(cache, "a.b.d", now: 50) == nil)
        #expect(lookup(cache, "a.b.c", now: 100) == nil)
        #expect(cache.count == 0)
        insert(cache, "old", Self.value(exp: 5), now: 10)
        #expect(cache.count == 0)
    }

    @Test func evictsWhenFullAndKeepsCapacity() {
        let cache = VerifiedTokenCache(capacity: 3)
        for i in 0..<10 { insert(cache, "t\(i)", Self.value(exp: 1000, sub: "\(i)"), now: 0) }
        #expect(cache.count == 3)
        #expect(lookup(cache, "t9", now: 1)?.sub == "9")
        // A referenced entry survives the next insertion (second chance).
        _ = lookup(cache, "t8", now: 1)
        insert(cache, "new", Self.value(exp: 1000), now: 1)
        #expect(lookup(cache, "t8", now: 1) != nil)
        #expect(cache.count == 3)
    }

    @Test func clearDropsEverything() {
        let cache = VerifiedTokenCache(capacity: 8)
        insert(cache, "a", Self.value(exp: 1000), now: 0)
        cache.clear()
        #expect(lookup(cache, "a", now: 1) == nil)
        #expect(cache.count == 0)
    }
}
