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

    /// True the first time only.
    func markStopped() -> Bool {
        values.withLock { v in
            if v.stopped { return false }
            v.stopped = true
            return true
        }
    }

    /// Why an op cannot be taken now, or nil when it can be posted.
    var refusal: String? {
        values.withLock { v in
            if !v.started { return "store not started" }
            if v.stopped { return "store stopped" }
            return nil
        }
    }
}
