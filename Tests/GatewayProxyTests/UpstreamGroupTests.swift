import Testing
@testable import GatewayCore
@testable import GatewayProxy

@Suite struct UpstreamGroupTests {
    static func group(_ n: Int) throws -> UpstreamGroup {
        let registry = ServerRegistry()
        var specs: [SocketAddressSpec] = []
        for i in 0..<n { specs.append(SocketAddressSpec(host: "127.0.0.1", port: UInt16(9000 + i))) }
        let servers = try specs.map { spec in
            let e = registry.entry(for: spec)
            return UpstreamServer(spec: spec, address: try SocketAddress.resolve(spec), id: e.id, health: e.health)
        }
        return UpstreamGroup(config: UpstreamConfig(name: "app", servers: specs), index: 0, servers: servers)
    }

    @Test func roundRobinVisitsEveryServerInTurn() throws {
        let g = try Self.group(3)
        var cursor = 0
        let picked = (0..<6).compactMap { _ in g.pick(cursor: &cursor, nowMs: 0)?.spec.port }
        #expect(picked == [9000, 9001, 9002, 9000, 9001, 9002])
    }

    @Test func skipsServersMarkedDown() throws {
        let g = try Self.group(3)
        g.servers[1].health.markFailed(nowMs: 1_000)
        var cursor = 0
        let picked = (0..<4).compactMap { _ in g.pick(cursor: &cursor, nowMs: 2_000)?.spec.port }
        #expect(!picked.contains(9001))
        // After the passive window the server is back in rotation.
        let later = (0..<3).compactMap { _ in g.pick(cursor: &cursor, nowMs: 1_000 + ServerHealth.passiveDownMs + 1)?.spec.port }
        #expect(later.contains(9001))
    }

    @Test func activeCheckDownIsSkipped() throws {
        let g = try Self.group(2)
        g.servers[0].health.setActive(.down)
        var cursor = 0
        #expect(g.pick(cursor: &cursor, nowMs: 0)?.spec.port == 9001)
        #expect(g.pick(cursor: &cursor, nowMs: 0)?.spec.port == 9001)
    }

    @Test func allDownStillPicksOne() throws {
        let g = try Self.group(2)
        for s in g.servers { s.health.setActive(.down) }
        var cursor = 0
        #expect(g.pick(cursor: &cursor, nowMs: 0) != nil)
    }

    @Test func excludingTheFailedServerPicksAnother() throws {
        let g = try Self.group(2)
        var cursor = 0
        let first = try #require(g.pick(cursor: &cursor, nowMs: 0))
        var c2 = 0
        let second = try #require(g.pick(cursor: &c2, nowMs: 0, excluding: first.id))
        #expect(second.id != first.id)
    }

    @Test func registryKeepsHealthAcrossReloads() {
        let registry = ServerRegistry()
        let spec = SocketAddressSpec(host: "127.0.0.1", port: 9000)
        let a = registry.entry(for: spec)
        a.health.setActive(.down)
        let b = registry.entry(for: spec)
        #expect(a.id == b.id)
        #expect(b.health.activeState == .down)
        #expect(registry.entry(for: SocketAddressSpec(host: "127.0.0.1", port: 9001)).id != a.id)
    }
}
