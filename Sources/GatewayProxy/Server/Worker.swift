import CLibevent
import GatewayAuth
import GatewayCore
import Synchronization
import GatewayLoop

/// State every worker shares: only atomics, read and written without locks.
final class SharedCounters: Sendable {
    let openConnections = Atomic<Int>(0)
    /// Last time (ms) the connection cap was logged, to log it once a second.
    let capLoggedMs = Atomic<Int64>(0)
}

/// One worker thread: its own event loop, its own listening sockets (one
/// per address, all bound with SO_REUSEPORT so the kernel spreads new
/// connections across workers without a hand-off), its client connections,
/// its upstream pool and its counters. A connection never changes worker.
///
/// Every method except `post`-ed ones runs on the worker's thread; other
/// threads talk to it only through `loop.post`.
final class Worker: @unchecked Sendable {  // unchecked: thread-confined, see above
    let index: Int
    let loop: EventLoop
    private(set) var runtime: RuntimeConfig
    let pool: UpstreamPool
    /// Written only on this thread. Replaced when a reload changes the
    /// number of routes or upstreams (a counter reset, as Prometheus expects).
    private(set) var metrics: WorkerMetrics
    private let metricsBox: Mutex<WorkerMetrics>
    /// Admin thread: the current counters, to read.
    var metricsForReading: WorkerMetrics { metricsBox.withLock { $0 } }
    private let shared: SharedCounters
    private let logBuffer: LogBuffer
    private var logTimer: Timer?
    private(set) var accessLog: AccessLogFormat
    private var listeners: [OpaquePointer] = []
    /// One per listener: what the accept callback needs to know about it.
    private final class Binding {
        unowned let worker: Worker
        init(worker: Worker) { self.worker = worker }
    }
    /// The certificate set new TLS connections use; nil: plain listeners.
    /// A reload replaces it (`applyTLS`); connections already accepted keep
    /// the set they started with (their SSL holds it).
    private var tls: TLSContext?
    private var bindings: [Binding] = []
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private(set) var draining = false
    /// The key set in force on this worker: the configuration's keys merged
    /// with the JWKS URL sets, replaced by `applyKeys` (posted by the
    /// `KeyRefresher` on the admin loop).
    private(set) var verifier: JWTVerifier
    private var keys: KeySet
    /// Set once at start when the configuration has `jwks_url` keys.
    var keyRefresher: KeyRefresher?
    /// Unknown-kid refetch: requests waiting for the round under way on this
    /// worker, and when this worker last started one. The refresher throttles
    /// across workers; this mirror keeps a flood of random kids from ever
    /// leaving the worker (SPEC §3: at most one triggered fetch per 30 s).
    private var keyWaiters: [(Bool) -> Void] = []
    private var lastKeyTriggerMs: Int64?
    static let keyTriggerIntervalMs: Int64 = 30_000

    /// Tokens that verified recently: a repeat skips the signature check.
    /// Emptied whenever a reload brings a new key set.
    let tokenCache = VerifiedTokenCache(capacity: 4096)
    /// Old token -> its refreshed successor within the current 30 s
    /// quantum, so a page that keeps sending its old token costs a lookup.
    let reissueCache = ReissueCache(capacity: 1024)
    /// Reusable buffer for heads written on this thread.
    // @exclusivity(unchecked): see ClientConnection; borrowed by swap, never
    // held across a call that could borrow it again.
    @exclusivity(unchecked) var scratch: [UInt8] = []
    /// The revocations in force (SPEC §7): replaced whole by the store's feed
    /// (`StateRuntime`), read by every request with no lock.
    private(set) var revocations = RevocationView.empty
    /// False while a store is configured and its first view has not arrived:
    /// authenticated routes answer 503 then, since an empty view would let
    /// revoked tokens in (SPEC §1: revoked tokens never reach the upstream).
    private(set) var revocationsReady: Bool
    /// The store and its metrics; nil in a stateless configuration.
    let state: StateRuntime?
    /// Request and response head buffers, passed from finished heads to new ones.
    let headPool = HeadBufferPool()
    /// Round-robin cursor per upstream group index, grown on first use of
    /// an index (an array, not a dictionary: no hashing per request).
    @exclusivity(unchecked) var roundRobin: [Int] = []
    private var requestCounter: UInt64 = 0
    private let requestIDPrefix: UInt64
    private let onStopped: @Sendable () -> Void

    init(index: Int, runtime: RuntimeConfig, metrics: WorkerMetrics, shared: SharedCounters, logSink: LogSink,
         requestIDPrefix: UInt64, state: StateRuntime?,
         onStopped: @escaping @Sendable () -> Void) throws(RuntimeError) {
        self.index = index
        self.state = state
        revocationsReady = state == nil
        loop = try EventLoop()
        self.runtime = runtime
        keys = runtime.keys
        verifier = JWTVerifier(keys: runtime.keys, tokens: runtime.config.tokens)
        self.metrics = metrics
        metricsBox = Mutex(metrics)
        self.shared = shared
        pool = UpstreamPool(loop: loop)
        logBuffer = LogBuffer(sink: logSink)
        accessLog = runtime.config.server.accessLog
        self.requestIDPrefix = requestIDPrefix
        self.onStopped = onStopped
        scratch.reserveCapacity(4096)
    }

    /// A new revocation view (posted by `StateRuntime`'s view thread).
    func applyRevocations(_ view: RevocationView) {
        revocations = view
        revocationsReady = true
    }

    /// Starts the thread; `listenFDs` become this worker's listeners, with
    /// TLS when `tls` is set.
    func start(listenFDs: [Int32], tls: TLSContext?) {
        let fds = listenFDs
        // Set before the thread exists (its creation orders the write), not
        // captured: the thread's closure lives as long as the thread, and
        // would keep this set alive after a reload replaced it.
        self.tls = tls
        OSThread.spawn(name: "gateway-w\(index)") { [self] in
            for fd in fds { self.addListener(fd) }
            self.logTimer = Timer(loop: self.loop) { [unowned self] in self.flushLogTick() }
            self.logTimer?.schedule(afterMs: 100)
            self.loop.run()
            self.logBuffer.flush()
            self.onStopped()
        }
    }

    private func flushLogTick() {
        logBuffer.flush()
        if !(draining && connections.isEmpty) { logTimer?.schedule(afterMs: 100) }
    }

    // MARK: Listening

    private func addListener(_ fd: Int32) {
        let cb: evconnlistener_cb = { _, fd, sa, len, arg in
            guard let arg, let sa else { close(fd); return }
            let b = Unmanaged<Binding>.fromOpaque(arg).takeUnretainedValue()
            b.worker.accepted(fd: fd, sa, socklen_t(len), tls: b.worker.tls)
        }
        let binding = Binding(worker: self)
        bindings.append(binding)
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE) | UInt32(LEV_OPT_CLOSE_ON_EXEC)
        guard let l = evconnlistener_new(loop.base, cb, Unmanaged.passUnretained(binding).toOpaque(), flags, -1, fd) else {
            OpsLog.error("worker \(index): cannot listen on fd \(fd)")
            close(fd)
            return
        }
        let errcb: evconnlistener_errorcb = { _, arg in
            // EMFILE/ENFILE: accepting fails until descriptors free up; libevent
            // keeps the listener, so log and go on.
            OpsLog.error("accept failed: \(String(cString: strerror(gw_errno())))")
        }
        evconnlistener_set_error_cb(l, errcb)
        listeners.append(l)
    }

    private func accepted(fd: Int32, _ sa: UnsafeMutablePointer<sockaddr>, _ len: socklen_t, tls: TLSContext?) {
        let cap = runtime.config.server.maxConnections
        let open = shared.openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if open > cap || draining {
            shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
            close(fd)
            let now = loop.nowMs()
            if !draining, now - shared.capLoggedMs.load(ordering: .relaxed) >= 1000 {
                shared.capLoggedMs.store(now, ordering: .relaxed)
                OpsLog.warning("connection limit reached (server.max_connections = \(cap)): refusing new connections")
            }
            return
        }
        let transport: BufferedSocket.Transport = tls.map { .tlsServer($0) } ?? .plain
        guard let socket = BufferedSocket(loop: loop, fd: fd, transport: transport) else {
            shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        let c = ClientConnection(worker: self, socket: socket, peer: SocketAddress(sa, length: len), secure: tls != nil)
        connections[ObjectIdentifier(c)] = c
        metrics.connectionOpened()
        c.start()
    }

    func connectionClosed(_ c: ClientConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(c)) != nil else { return }
        shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
        metrics.connectionClosed()
        if draining && connections.isEmpty { finishDrain() }
    }

    // MARK: Requests

    /// A per-process random prefix mixed with a counter, unique without a
    /// syscall per request; written as 16 hex digits (`RequestIDText`).
    func nextRequestID() -> UInt64 {
        requestCounter &+= 1
        return requestIDPrefix ^ (UInt64(index) << 56) ^ (requestCounter &* 0x9E37_79B9_7F4A_7C15)
    }

    func logRequest(_ entry: AccessLogEntry) {
        let format = accessLog
        logBuffer.append { out in AccessLogWriter.write(entry, format: format, into: &out) }
    }

    // MARK: Control (posted from the main thread)

    /// New requests use `runtime` from now on; exchanges under way keep theirs.
    func apply(_ runtime: RuntimeConfig) {
        if runtime.config.routes.count != self.runtime.config.routes.count
            || runtime.upstreams.count != self.runtime.upstreams.count {
            let fresh = WorkerMetrics(routeCount: runtime.config.routes.count, upstreamCount: runtime.upstreams.count)
            for _ in 0..<connections.count { fresh.connectionOpened() }
            metrics = fresh
            metricsBox.withLock { $0 = fresh }
        }
        self.runtime = runtime
        accessLog = runtime.config.server.accessLog
        // Keys follow from the refresher (it publishes the merged set of this
        // reload right after); the claim rules of [tokens] apply now.
        verifier = JWTVerifier(keys: keys, tokens: runtime.config.tokens)
        tokenCache.clear()
        reissueCache.clear()
    }

    /// A reload's certificate set: new handshakes use it from now on.
    func applyTLS(_ set: TLSContext) {
        tls = set
    }

    /// A new merged key set (start of JWKS, refresh, reload).
    func applyKeys(_ set: KeySet) {
        keys = set
        verifier = JWTVerifier(keys: set, tokens: runtime.config.tokens)
        tokenCache.clear()
    }

    /// True when an unknown kid may wait for a key refetch: JWKS URLs are
    /// configured and this worker has a round under way or none in 30 s.
    func mayRefetchKeys() -> Bool {
        guard keyRefresher != nil else { return false }
        if !keyWaiters.isEmpty { return true }
        guard let last = lastKeyTriggerMs else { return true }
        return loop.nowMs() - last >= Self.keyTriggerIntervalMs
    }

    /// Waits for a refetch of the JWKS URLs; `done(true)` on this loop when
    /// new keys arrived (they are applied first). Concurrent callers share
    /// one round.
    func requestKeyRefetch(_ done: @escaping (Bool) -> Void) {
        keyWaiters.append(done)
        guard keyWaiters.count == 1, let refresher = keyRefresher else { return }
        lastKeyTriggerMs = loop.nowMs()
        let worker = UncheckedBox(self)
        refresher.requestRefetch { arrived in
            // The refresher's loop: hop back. Its publish was posted first,
            // so the new keys are in place when the waiters run.
            worker.value.loop.post { worker.value.finishKeyRefetch(arrived) }
        }
    }

    private func finishKeyRefetch(_ arrived: Bool) {
        let waiters = keyWaiters
        keyWaiters.removeAll()
        for w in waiters { w(arrived) }
    }

    /// Stop accepting, close idle connections, let busy ones finish.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        for l in listeners { evconnlistener_free(l) }
        listeners.removeAll()
        pool.closeAll()
        for c in Array(connections.values) { c.beginDrain() }
        if connections.isEmpty { finishDrain() }
    }

    /// Shutdown timeout passed: close whatever is left.
    func forceClose() {
        draining = true
        for c in Array(connections.values) { c.close() }
        finishDrain()
    }

    private func finishDrain() {
        pool.closeAll()
        logTimer?.cancel()
        logTimer = nil
        loop.stop()
    }

    var openConnectionCount: Int { connections.count }
}

/// Carries a loop-confined reference through a `@Sendable` closure that
/// only hands it back to that same loop (`EventLoop.post`).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
