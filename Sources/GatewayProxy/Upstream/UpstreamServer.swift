import GatewayCore
import Synchronization

/// One upstream server as the runtime sees it: its resolved address and its
/// health, shared by every worker. Health is read on the request path with
/// relaxed atomics (no lock); it is a hint, so a stale read costs at most
/// one failed connect.
final class UpstreamServer: Sendable {
    let spec: SocketAddressSpec
    let address: SocketAddress
    /// Stable across reloads for the same address: indexes per-worker pools.
    let id: Int
    let health: ServerHealth
    /// "host:port", for logs; made once, not per request.
    let name: String

    init(spec: SocketAddressSpec, address: SocketAddress, id: Int, health: ServerHealth) {
        self.spec = spec; self.address = address; self.id = id; self.health = health
        name = spec.description
    }
}

/// Health of one server address: the active TCP check's verdict plus a
/// passive "down until" set when a worker fails to connect.
final class ServerHealth: Sendable {
    enum Active: UInt8 { case unknown = 0, up = 1, down = 2 }
    private let active = Atomic<UInt8>(Active.unknown.rawValue)
    private let passiveDownUntilMs = Atomic<Int64>(0)

    /// How long a failed connect keeps a server out of the rotation.
    static let passiveDownMs: Int64 = 5_000

    var activeState: Active { Active(rawValue: active.load(ordering: .relaxed)) ?? .unknown }
    func setActive(_ state: Active) { active.store(state.rawValue, ordering: .relaxed) }

    func markFailed(nowMs: Int64) { passiveDownUntilMs.store(nowMs + Self.passiveDownMs, ordering: .relaxed) }
    func markSucceeded() {
        if passiveDownUntilMs.load(ordering: .relaxed) != 0 { passiveDownUntilMs.store(0, ordering: .relaxed) }
    }

    /// Usable for new requests: not failed by the active check, not recently
    /// failed by a worker.
    func isUsable(nowMs: Int64) -> Bool {
        activeState != .down && passiveDownUntilMs.load(ordering: .relaxed) <= nowMs
    }
}

/// Keeps one `ServerHealth` and id per address across reloads, so a reload
/// neither forgets that a server is down nor orphans pooled connections.
final class ServerRegistry: Sendable {
    private struct State { var byAddress: [SocketAddressSpec: (Int, ServerHealth)] = [:] }
    private let state = Mutex(State())

    func entry(for spec: SocketAddressSpec) -> (id: Int, health: ServerHealth) {
        state.withLock { s in
            if let e = s.byAddress[spec] { return e }
            let e = (s.byAddress.count, ServerHealth())
            s.byAddress[spec] = e
            return e
        }
    }
}

/// An `[upstreams.NAME]` group resolved for the runtime.
final class UpstreamGroup: Sendable {
    let name: String
    let index: Int
    let servers: [UpstreamServer]
    let connectTimeoutMs: Int64
    let responseTimeoutMs: Int64
    let readTimeoutMs: Int64
    let maxIdleConnections: Int
    let healthCheckIntervalMs: Int64

    init(config: UpstreamConfig, index: Int, servers: [UpstreamServer]) {
        name = config.name; self.index = index; self.servers = servers
        connectTimeoutMs = config.connectTimeoutMs; responseTimeoutMs = config.responseTimeoutMs
        readTimeoutMs = config.readTimeoutMs
        maxIdleConnections = config.maxIdleConnections; healthCheckIntervalMs = config.healthCheckIntervalMs
    }

    /// Round robin from `cursor`, skipping unusable servers and `excluding`.
    /// When every server looks down, still returns one: failing closed on a
    /// stale health hint would turn a blip into an outage.
    func pick(cursor: inout Int, nowMs: Int64, excluding: Int? = nil) -> UpstreamServer? {
        let n = servers.count
        guard n > 0 else { return nil }
        var fallback: UpstreamServer?
        for _ in 0..<n {
            let s = servers[cursor % n]
            cursor = (cursor &+ 1) & Int.max
            if s.id == excluding { continue }
            if s.health.isUsable(nowMs: nowMs) { return s }
            if fallback == nil { fallback = s }
        }
        return fallback
    }
}
