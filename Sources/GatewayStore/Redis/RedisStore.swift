public import GatewayAuth
import GatewayLoop

/// The shared store (SPEC §7 "Store"): several gateway instances on one
/// Redis. One thread of its own runs an event loop with two hiredis
/// connections (commands; the revocation channel). Callers on any thread
/// post their operation to that loop; each completes on the caller's
/// executor once Redis answered it, or at once with `.unavailable` while
/// Redis is not reachable. Nothing on any loop blocks: host names are
/// resolved on a short-lived thread.
public final class RedisStore: StateStore {
    public let kind = "redis"
    private let loop: EventLoop
    private let engine: RedisEngine
    private let state = RedisStoreState()

    /// `url`: `redis://host[:port][/db]` (port 6379, db 0 by default).
    /// `password`: sent with AUTH on every connection when given. `prefix`:
    /// prepended to every key and the channel name. `log`: one line per
    /// connection change, from the store thread.
    /// Throws `.open` for a bad URL or when the event loop cannot be made.
    public convenience init(url: String, password: String?, prefix: String,
                            log: @escaping @Sendable (String) -> Void) throws(StoreError) {
        try self.init(url: url, password: password, prefix: prefix, resyncIntervalMs: 30_000, log: log)
    }

    /// Tests shorten the resync interval (SPEC §7: every 30 s).
    init(url: String, password: String?, prefix: String, resyncIntervalMs: Int64,
         log: @escaping @Sendable (String) -> Void) throws(StoreError) {
        let parsed = try RedisURL(parsing: url)
        do {
            loop = try EventLoop()
        } catch {
            throw .open("redis store: cannot create its event loop: \(error)")
        }
        var settings = RedisEngine.Settings(url: parsed, password: password, prefix: prefix, log: log)
        settings.resyncIntervalMs = resyncIntervalMs
        engine = RedisEngine(settings: settings, loop: loop, state: state)
    }

    public var status: StoreStatus { state.status }
    public var sessionKey: [UInt8]? { state.sessionKey }

    public func start(feed: @escaping @Sendable (RevocationChange) -> Void) {
        guard state.markStarted() else { return }
        let engine = self.engine, loop = self.loop
        loop.post { engine.start(feed: feed) }
        let spawned = OSThread.spawn(name: "redis-store") {
            loop.run()
            engine.releaseResources()
        }
        if !spawned {
            state.setStatus(.down("cannot start the store thread"))
            state.markStopped {}  // ops are refused from here on
        }
    }

    public func stop() {
        let engine = self.engine, loop = self.loop
        state.markStopped { loop.post { engine.stop() } }
    }

    /// Posts `work` to the store thread, or refuses at once when the store
    /// is not running.
    private func submit<T: Sendable>(_ executor: any CompletionExecutor,
                                     _ done: @escaping @Sendable (Result<T, StoreError>) -> Void,
                                     _ work: @escaping @Sendable (RedisEngine) -> Void) {
        let engine = self.engine, loop = self.loop
        if let why = state.accepting({ loop.post { work(engine) } }) {
            executor.post { done(.failure(.unavailable(why))) }
        }
    }

    public func addRevocation(_ target: Revocation.Target, until: Int64, now: Int64,
                              on executor: any CompletionExecutor,
                              _ done: @escaping @Sendable (Result<Revocation, StoreError>) -> Void) {
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in engine.addRevocation(target, until: until, now: now, finish) }
        }
    }

    public func deleteRevocation(id: String, on executor: any CompletionExecutor,
                                 _ done: @escaping @Sendable (Result<Bool, StoreError>) -> Void) {
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in engine.deleteRevocation(id: id, finish) }
        }
    }

    public func listRevocations(cursor: String?, limit: Int, now: Int64, on executor: any CompletionExecutor,
                                _ done: @escaping @Sendable (Result<RevocationPage, StoreError>) -> Void) {
        // The cursor is the seq of the last entry returned, in decimal.
        let after: Int64
        if let cursor {
            guard !cursor.isEmpty, cursor.count <= 18, cursor.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let seq = Int64(cursor), seq > 0 else {
                executor.post { done(.failure(.badCursor)) }
                return
            }
            after = seq
        } else {
            after = 0
        }
        let pageSize = min(max(limit, 1), 10_000)
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in
                engine.listRevocations(after: after, limit: pageSize, now: now, finish)
            }
        }
    }

    public func startSession(_ session: SessionRecord, refreshTokenHash: [UInt8], now: Int64, refreshTTL: Int64,
                             on executor: any CompletionExecutor,
                             _ done: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in
                engine.startSession(session, tokenHash: refreshTokenHash, now: now, refreshTTL: refreshTTL, finish)
            }
        }
    }

    public func rotate(refreshTokenHash: [UInt8], successorHash: [UInt8], now: Int64, grace: Int64,
                       refreshTTL: Int64, on executor: any CompletionExecutor,
                       _ done: @escaping @Sendable (Result<RotateOutcome, StoreError>) -> Void) {
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in
                engine.rotate(tokenHash: refreshTokenHash, successorHash: successorHash, now: now, grace: grace,
                              refreshTTL: refreshTTL, finish)
            }
        }
    }

    public func endSession(_ which: SessionSelector, now: Int64, fallbackUntil: Int64,
                           on executor: any CompletionExecutor,
                           _ done: @escaping @Sendable (Result<String?, StoreError>) -> Void) {
        submit(executor, done) { engine in
            engine.run(on: executor, done) { finish in
                engine.endSession(which, now: now, fallbackUntil: fallbackUntil, finish)
            }
        }
    }
}
