import CLibevent
import CLibeventPool
import Synchronization

/// Owns one libevent `event_base` and the thread-safe inbox that is the only
/// way into it from other threads.
///
/// Everything except `post` must be called on the loop's own thread: libevent
/// is used without its locking (one base per thread, STYLE.md §8).
public final class EventLoop: @unchecked Sendable {  // unchecked: see the thread rule above
    public let base: OpaquePointer
    private let wakeFD: Int32
    private var wakeEvent: OpaquePointer?
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    /// The loop's DNS resolver, made on first use (`dnsBase`).
    private var dns: OpaquePointer?

    /// libevent's buffers come from per-thread caches (CLibeventPool), so a
    /// keep-alive request mallocs no evbuffer chain. Installed once, before
    /// the first libevent call, which is always a loop's `event_config_new`.
    /// False in sanitizer builds and with GATEWAY_LIBEVENT_POOL=off.
    public static let buffersPooled: Bool = gw_libevent_pool_install() != 0

    public init() throws(RuntimeError) {
        _ = Self.buffersPooled
        // No locking, no lock debugging: this base never crosses a thread.
        guard let cfg = event_config_new() else { throw .libevent("event_config_new") }
        defer { event_config_free(cfg) }
        event_config_set_flag(cfg, Int32(EVENT_BASE_FLAG_NOLOCK.rawValue))
        guard let b = event_base_new_with_config(cfg) else { throw .libevent("event_base_new") }
        base = b
        let fd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard fd >= 0 else { event_base_free(b); throw .system("eventfd", gw_errno()) }
        wakeFD = fd
        let cb: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<EventLoop>.fromOpaque(arg).takeUnretainedValue().drainInbox()
        }
        wakeEvent = gw_evread_new(base, wakeFD, cb, Unmanaged.passUnretained(self).toOpaque())
        if let wakeEvent { event_add(wakeEvent, nil) }
    }

    deinit {
        // Pending lookups are failed (their callbacks see a cancel) before the base goes.
        if let dns { evdns_base_free(dns, 1) }
        if let wakeEvent { event_free(wakeEvent) }
        close(wakeFD)
        event_base_free(base)
    }

    /// libevent's resolver on this loop (nameservers from resolv.conf,
    /// names from /etc/hosts), made on first use; nil if it cannot be.
    /// Idle, it keeps nothing registered, so `run()` still returns when
    /// nothing else is left. Loop thread only.
    public var dnsBase: OpaquePointer? {
        if dns == nil {
            dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)
            if let dns {
                // A dead nameserver costs at most 2 x 2 s, within a key fetch's own deadline.
                evdns_base_set_option(dns, "timeout:", "2")
                evdns_base_set_option(dns, "attempts:", "2")
            }
        }
        return dns
    }

    /// Runs the loop until `stop()` is called or nothing is left to wait for.
    /// Call on the loop's thread.
    public func run() {
        event_base_dispatch(base)
    }

    /// Asks the loop to return from `run()` after the current callbacks.
    public func stop() {
        event_base_loopbreak(base)
    }

    /// Any thread: queue `work` to run on the loop's thread, and wake it.
    public func post(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func drainInbox() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        let work = inbox.withLock { q -> [@Sendable () -> Void] in
            let w = q
            q.removeAll(keepingCapacity: true)
            return w
        }
        for w in work { w() }
    }

    /// Cached time of the current loop iteration in microseconds.
    public func nowUs() -> Int64 {
        var tv = timeval()
        event_base_gettimeofday_cached(base, &tv)
        return Int64(tv.tv_sec) * 1_000_000 + Int64(tv.tv_usec)
    }

    /// Monotonic microseconds, read now (not cached): what durations are
    /// measured with. The cached loop time is wall-clock time taken once an
    /// iteration, which an NTP step moves and which gives every exchange
    /// that begins and ends in two close iterations the same few values.
    /// One vDSO call, no system call.
    public func monotonicUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Cached time of the current loop iteration, in milliseconds since the
    /// epoch: one clock read per iteration, not per request.
    public func nowMs() -> Int64 {
        var tv = timeval()
        event_base_gettimeofday_cached(base, &tv)
        return Int64(tv.tv_sec) * 1000 + Int64(tv.tv_usec) / 1000
    }
}

/// A one-shot timer owned by one object on one loop. Re-armed with `schedule`.
///
/// A `lazy` timer is for deadlines moved on every request (a connection's
/// idle, head and upstream timeouts): re-arming libevent's timer heap twice
/// a request cost more than the rest of the timer work. Like nginx's lazy
/// timers, it keeps an armed event that fires no later than the new
/// deadline and only records the deadline; when that event fires early it
/// re-arms for the rest. `cancel` only forgets the deadline, so a stale
/// event may still fire, to no effect. It never runs its action early or
/// (beyond libevent's own precision) late. Because a cancelled lazy timer
/// can stay in the loop until it fires, free it (drop the object) when its
/// owner closes, so it never keeps a finished loop running.
public final class Timer {
    // @exclusivity(unchecked): one loop thread, and no access spans a call
    // out (the action runs after `fired` is done with them).
    @exclusivity(unchecked) private var event: OpaquePointer?
    @exclusivity(unchecked) private var action: () -> Void
    private let lazy: Bool
    /// Lazy timers: when the action is due (monotonic µs), nil after
    /// `cancel`, and when the libevent event will fire, nil when unarmed.
    @exclusivity(unchecked) private var dueUs: Int64?
    @exclusivity(unchecked) private var armedUs: Int64?

    /// A timer whose action is given later (`onFire`): for an owner that
    /// keeps it in a `let` and must exist before a closure can capture it.
    public convenience init(loop: EventLoop, lazy: Bool = false) {
        self.init(loop: loop, lazy: lazy, action: {})
    }

    /// Sets what runs when the timer fires.
    public func onFire(_ action: @escaping () -> Void) { self.action = action }

    /// Frees the libevent event now (the owner closed; see above): the
    /// timer does nothing from here on.
    public func free() {
        if let event { event_free(event) }
        event = nil
        dueUs = nil
        armedUs = nil
    }

    /// `action` runs on the loop's thread when the timer fires.
    public init(loop: EventLoop, lazy: Bool = false, action: @escaping () -> Void) {
        self.action = action
        self.lazy = lazy
        let cb: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<Timer>.fromOpaque(arg).takeUnretainedValue().fired()
        }
        event = gw_evtimer_new(loop.base, cb, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { if let event { event_free(event) } }

    public func schedule(afterMs ms: Int64) {
        guard let event else { return }
        guard lazy, ms >= 0 else {
            _ = gw_event_add_ms(event, Int(ms))
            return
        }
        let now = Self.monotonicUs()
        let due = now + ms * 1000
        dueUs = due
        if let armed = armedUs, armed <= due { return }   // fires first; `fired` re-arms for the rest
        arm(event, afterUs: due - now, now: now)
    }

    public func cancel() {
        guard let event else { return }
        if lazy { dueUs = nil } else { event_del(event) }
    }

    public var isPending: Bool {
        guard let event else { return false }
        if lazy { return dueUs != nil }
        return event_pending(event, Int16(EV_TIMEOUT), nil) != 0
    }

    private func arm(_ event: OpaquePointer, afterUs us: Int64, now: Int64) {
        _ = gw_event_add_us(event, us)
        armedUs = now + us
    }

    private func fired() {
        guard lazy else { action(); return }
        armedUs = nil
        guard let due = dueUs, let event else { return }
        let now = Self.monotonicUs()
        if now < due {
            arm(event, afterUs: due - now, now: now)
            return
        }
        dueUs = nil
        action()
    }

    private static func monotonicUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

/// Errors from the runtime's C calls, with the call's name and errno.
public enum RuntimeError: Error, CustomStringConvertible {
    case libevent(String)
    case system(String, Int32)
    case address(String)

    public var description: String {
        switch self {
        case .libevent(let call): return "\(call) failed"
        case .system(let call, let err): return "\(call): \(String(cString: strerror(err)))"
        case .address(let what): return what
        }
    }
}
