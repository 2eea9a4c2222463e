import Foundation
import Synchronization
import Testing
@testable import GatewayStore
import GatewayAuth

/// Throughput through RedisStore with 64 operations in flight. Off by default:
///   GATEWAY_REDIS_BENCH=1 swift test --filter RedisStoreBench
/// Prints figures; asserts only that every operation succeeded.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["GATEWAY_REDIS_BENCH"] != nil))
struct RedisStoreBench {
    let inFlight = 64
    let count = 20_000

    @Test func throughput() async throws {
        let server = try RedisTestServer()
        let (store, _) = try await startedStore(server, prefix: "bench:")
        defer { store.stop() }
        let t0 = Int64(Date().timeIntervalSince1970) * 1000
        let nowS = t0 / 1000
        let day: Int64 = 86_400_000
        let hashes = (0..<(count + 1)).map { tokenHash("bench-\($0)") }
        let sessions = (0..<count).map {
            SessionRecord(sid: "s\($0)", sub: "user\($0 % 100)", claims: Array(#"{"role":"user"}"#.utf8),
                          start: t0, expires: t0 + 30 * day)
        }

        let started = await measure("startSession") { i, done in
            store.startSession(sessions[i], refreshTokenHash: hashes[i], now: t0, refreshTTL: day,
                               on: InlineExecutor()) { done($0.value != nil) }
        }
        let rotated = await measure("rotate") { i, done in
            store.rotate(refreshTokenHash: hashes[i], successorHash: tokenHash("succ-\(i)"), now: t0 + 1_000,
                         grace: 30_000, refreshTTL: day, on: InlineExecutor()) { r in
                if case .rotated? = r.value { done(true) } else { done(false) }
            }
        }
        let revoked = await measure("addRevocation") { i, done in
            store.addRevocation(.jti("bench-jti-\(i)"), until: nowS + 3600, now: nowS, on: InlineExecutor()) {
                done($0.value != nil)
            }
        }
        #expect(started && rotated && revoked)
    }

    /// Runs `count` ops, `inFlight` at a time (each completion starts the
    /// next), and prints ops/s.
    private func measure(_ name: String,
                         _ op: @escaping @Sendable (Int, @escaping @Sendable (Bool) -> Void) -> Void) async -> Bool {
        struct Progress { var next = 0, finished = 0, failed = 0 }
        let progress = Mutex(Progress())
        let total = count
        let clock = ContinuousClock()
        let begin = clock.now
        await withCheckedContinuation { (all: CheckedContinuation<Void, Never>) in
            @Sendable func launch() {
                let i: Int? = progress.withLock { p in
                    guard p.next < total else { return nil }
                    defer { p.next += 1 }
                    return p.next
                }
                guard let i else { return }
                op(i) { ok in
                    let last = progress.withLock { p -> Bool in
                        p.finished += 1
                        if !ok { p.failed += 1 }
                        return p.finished == total
                    }
                    if last { all.resume() } else { launch() }
                }
            }
            for _ in 0..<inFlight { launch() }
        }
        let elapsed = clock.now - begin
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let failed = progress.withLock { $0.failed }
        print("RedisStoreBench \(name): \(total) ops, \(inFlight) in flight, "
              + "\(String(format: "%.0f", Double(total) / seconds)) ops/s, \(failed) failed")
        return failed == 0
    }
}
