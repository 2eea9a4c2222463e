import Synchronization

/// What any thread may read of a `RedisStore` (status, session key) and the
/// engine's start/stop flags; written by the store thread.
final class RedisStoreState: Sendable {
    private struct Values {
        var status: StoreStatus = .connecting
        var sessionKey: [UInt8]?
        var started = false
        var stopped = false
    }
    private let values = Mutex(Values())

    var status: StoreStatus { values.withLock { $0.status } }
    var sessionKey: [UInt8]? { values.withLock { $0.sessionKey } }

    func setStatus(_ s: StoreStatus) { values.withLock { $0.status = s } }
    func setSessionKey(_ k: [UInt8]) { values.withLock { $0.sessionKey = k } }

    /// True the first time only.
    func markStarted() -> Bool {
        values.withLock { v in
            if v.started { return false }
            v.started = true
            return true
        }
    }

    /// The first time only: marks the store stopped and runs `post` (which
    /// queues the stop) under the same lock as `accepting`, so every op taken
    /// was queued before the stop and is finished by it.
    func markStopped(_ post: () -> Void) {
        values.withLock { v in
            if v.stopped { return }
            v.stopped = true
            post()
        }
    }

    /// Runs `post` (which queues an op) when the store is running, and
    /// returns nil; otherwise returns why not.
    func accepting(_ post: () -> Void) -> String? {
        values.withLock { v in
            if !v.started { return "store not started" }
            if v.stopped { return "store stopped" }
            post()
            return nil
        }
    }
}
