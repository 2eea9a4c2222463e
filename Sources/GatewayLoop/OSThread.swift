import CLibevent

/// A plain pthread running one closure: workers, the admin loop, the log
/// writer. Foundation's Thread would do, but would pull Foundation into the
/// runtime for one call.
public enum OSThread {
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    /// Starts `body` on a new thread. Returns false when the system refuses.
    @discardableResult
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let threadName = String(name.prefix(15))
        let box = Unmanaged.passRetained(Box({ threadName.withCString { gw_set_thread_name($0) }; body() })).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            let b = Unmanaged<Box>.fromOpaque(arg).takeRetainedValue()
            b.body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            return false
        }
        pthread_detach(tid)
        return true
    }
}
