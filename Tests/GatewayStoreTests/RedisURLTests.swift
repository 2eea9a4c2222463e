import Testing
@testable import GatewayStore

@Suite struct RedisURLTests {
    @Test func hostPortAndDatabase() throws {
        #expect(try RedisURL(parsing: "redis://127.0.0.1:6380/2") == RedisURL(host: "127.0.0.1", port: 6380, db: 2))
        #expect(try RedisURL(parsing: "redis://cache.internal") == RedisURL(host: "cache.internal", port: 6379, db: 0))
        #expect(try RedisURL(parsing: "redis://h:7000/") == RedisURL(host: "h", port: 7000, db: 0))
        #expect(try RedisURL(parsing: "redis://[::1]:6379/1") == RedisURL(host: "::1", port: 6379, db: 1))
    }

    @Test(arguments: ["", "http://h:1/0", "rediss://h:6379/0", "redis://", "redis://:6379/0", "redis://h:0/0",
                      "redis://h:65536", "redis://h:12a/0", "redis://h:6379/x", "redis://h:6379/-1",
                      "redis://user:pw@h:6379/0", "redis://h:6379/0?timeout=1", "redis://h h:6379",
                      "redis://[::1/0", "redis://h:+1/0"])
    func refused(_ text: String) {
        #expect(throws: StoreError.self) { try RedisURL(parsing: text) }
    }

    @Test func badURLIsAnOpenError() {
        #expect {
            _ = try RedisStore(url: "redis://h:99999/0", password: nil, prefix: "p:", log: { _ in })
        } throws: { error in
            guard case .open(let why) = error as? StoreError else { return false }
            return why.contains("redis://h:99999/0")
        }
    }

    @Test func opsBeforeStartAndAfterStopAreUnavailable() async throws {
        let store = try RedisStore(url: "redis://127.0.0.1:1/0", password: nil, prefix: "p:", log: { _ in })
        #expect(store.kind == "redis")
        #expect(store.status == .connecting)
        #expect(store.sessionKey == nil)
        let before = await store.delete("x")
        #expect(before.error?.isUnavailable == true)
        store.start(feed: { _ in })
        store.stop()
        store.stop()
        let after = await store.delete("x")
        #expect(after.error?.isUnavailable == true)
    }
}
