import CLibevent
import GatewayAuth
import GatewayCore
import Synchronization
import GatewayLoop

/// The admin listener (SPEC §8) on a thread and loop of its own, so
/// /healthz, /readyz and /metrics answer while every worker is busy. It also
/// runs the active upstream checks and watches that worker loops turn.
final class AdminServer: @unchecked Sendable {  // unchecked: loop-confined except `post`ed calls
    let loop: EventLoop
    private var runtime: RuntimeConfig
    private let workers: [Worker]
    let processMetrics: ProcessMetrics
    private let health: HealthChecker
    private var listener: OpaquePointer?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    /// Last time (loop ms) each worker answered a heartbeat.
    private let heartbeats: [Heartbeat]
    private var heartbeatTimer: Timer?
    private let environment: [String: String]
    /// The store and its metrics; nil in a stateless configuration.
    let state: StateRuntime?
    var extraReadinessReasons: @Sendable () -> [String] = { [] }

    init(runtime: RuntimeConfig, workers: [Worker], processMetrics: ProcessMetrics,
         environment: [String: String], state: StateRuntime?) throws(RuntimeError) {
        loop = try EventLoop()
        self.state = state
        self.runtime = runtime
        self.workers = workers
        self.processMetrics = processMetrics
        self.environment = environment
        health = HealthChecker(loop: loop, runtime: runtime)
        heartbeats = workers.map { _ in Heartbeat() }
    }

    func start(listenFD: Int32) {
        OSThread.spawn(name: "gateway-admin") { [self] in
            let cb: evconnlistener_cb = { _, fd, _, _, arg in
                guard let arg else { close(fd); return }
                Unmanaged<AdminServer>.fromOpaque(arg).takeUnretainedValue().accepted(fd)
            }
            let flags = UInt32(LEV_OPT_CLOSE_ON_FREE) | UInt32(LEV_OPT_CLOSE_ON_EXEC)
            self.listener = evconnlistener_new(self.loop.base, cb, Unmanaged.passUnretained(self).toOpaque(), flags, -1, listenFD)
            self.health.apply(self.runtime)
            self.heartbeatTimer = Timer(loop: self.loop) { [unowned self] in self.sendHeartbeats() }
            self.sendHeartbeats()
            self.loop.run()
        }
    }

    func apply(_ runtime: RuntimeConfig) {
        self.runtime = runtime
        health.apply(runtime)
    }

    func stop() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
        for c in Array(connections.values) { c.close() }
        heartbeatTimer?.cancel()
        loop.stop()
    }

    private func sendHeartbeats() {
        let now = loop.nowMs()
        for (i, w) in workers.enumerated() {
            let beats = heartbeats
            w.loop.post { beats[i].last.store(now, ordering: .relaxed) }
        }
        heartbeatTimer?.schedule(afterMs: 1000)
    }

    private func accepted(_ fd: Int32) {
        guard let socket = BufferedSocket(loop: loop, fd: fd) else { return }
        let c = AdminConnection(server: self, socket: socket, maxHeadBytes: runtime.config.server.maxHeaderBytes)
        connections[ObjectIdentifier(c)] = c
        c.start()
    }

    func closed(_ c: AdminConnection) {
        connections.removeValue(forKey: ObjectIdentifier(c))
    }

    // MARK: Answers

    typealias Answer = AdminAnswer

    /// Answers one request; `reply` runs on this loop, at once or, for the
    /// revocation API, once the store has made the change durable.
    func handle(_ request: AdminRequest, reply: @escaping (Answer) -> Void) {
        if request.path.hasPrefix("/admin/") || request.path == "/admin" {
            adminAPI(request, reply: reply)
        } else {
            reply(handleLocal(request))
        }
    }

    private func handleLocal(_ request: AdminRequest) -> Answer {
        let (method, path) = (request.method, request.path)
        guard method == "GET" || method == "HEAD" else {
            return Answer(status: 405, contentType: "text/plain", body: Array("method not allowed\n".utf8),
                          headers: [("Allow", "GET, HEAD")])
        }
        switch path {
        case "/healthz":
            // A worker that has not answered a heartbeat for 5 s is stuck.
            let now = loop.nowMs()
            for (i, b) in heartbeats.enumerated() where now - b.last.load(ordering: .relaxed) > 5_000 {
                return Answer(status: 503, contentType: "text/plain", body: Array("worker \(i) stalled\n".utf8))
            }
            return Answer(status: 200, contentType: "text/plain", body: Array("ok\n".utf8))
        case "/readyz":
            var reasons = health.reasons() + extraReadinessReasons()
            var degraded: [String] = []
            if let state {
                switch state.store.status {
                case .up: break
                case .connecting: reasons.append("store \(state.store.kind): not reached yet")
                // §7: an outage after start is shared by every instance;
                // pulling them all out of rotation would stop serving.
                case .down(let why): degraded.append("store \(state.store.kind): \(why)")
                }
            }
            let report = ReadinessReport(reasons: reasons, degraded: degraded)
            return Answer(status: report.httpStatus, contentType: "application/json", body: Array(report.json.utf8))
        case "/metrics":
            var text = ""
            MetricsExposition.render(workers: workers, process: processMetrics, runtime: runtime,
                                     nowMs: loop.nowMs(), into: &text)
            if let state {
                state.metrics.setStoreUp(state.store.status == .up)
                state.metrics.render(into: &text)
            }
            return Answer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
        default:
            return Answer(status: 404, contentType: "text/plain", body: Array("not found\n".utf8))
        }
    }

    /// SPEC §8: the whole API is 404 while the token variable is unset or
    /// empty; otherwise a bearer compared in constant time, 401 on mismatch.
    private func adminAPI(_ request: AdminRequest, reply: @escaping (Answer) -> Void) {
        guard let name = runtime.config.admin.tokenEnv, let secret = environment[name], !secret.isEmpty else {
            return reply(.error(404, "not_found"))
        }
        let expected = Array(("Bearer " + secret).utf8)
        guard let given = request.authorization, ConstantTime.equals(given, expected) else {
            return reply(.error(401, "unauthorized", headers: [("WWW-Authenticate", "Bearer realm=\"gateway-admin\"")]))
        }
        guard let state else {
            // Stateless configuration (no [store], no [sessions]): no API to offer.
            return reply(.error(404, "not_found"))
        }
        RevocationAPI.handle(request, state: state, runtime: runtime, loop: loop, reply: reply)
    }
}

/// When a worker last answered (loop ms); written by that worker.
final class Heartbeat: Sendable { let last = Atomic<Int64>(0) }
