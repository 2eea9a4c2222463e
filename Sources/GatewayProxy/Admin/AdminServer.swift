import CLibevent
import GatewayAuth
import GatewayCore
import Synchronization

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
    var extraReadinessReasons: @Sendable () -> [String] = { [] }

    init(runtime: RuntimeConfig, workers: [Worker], processMetrics: ProcessMetrics,
         environment: [String: String]) throws(RuntimeError) {
        loop = try EventLoop()
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

    struct Answer {
        var status: Int
        var contentType: String
        var body: [UInt8]
        var headers: [(String, String)] = []
    }

    func handle(method: String, path: String, authorization: [UInt8]?) -> Answer {
        if path.hasPrefix("/admin/") || path == "/admin" {
            return adminAPI(authorization: authorization)
        }
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
            let reasons = health.reasons() + extraReadinessReasons()
            let report = ReadinessReport(reasons: reasons, degraded: [])
            return Answer(status: report.httpStatus, contentType: "application/json", body: Array(report.json.utf8))
        case "/metrics":
            var text = ""
            MetricsExposition.render(workers: workers, process: processMetrics, runtime: runtime,
                                     nowMs: loop.nowMs(), into: &text)
            return Answer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
        default:
            return Answer(status: 404, contentType: "text/plain", body: Array("not found\n".utf8))
        }
    }

    /// SPEC §8: the whole API is 404 while the token variable is unset or
    /// empty; otherwise a bearer compared in constant time, 401 on mismatch.
    private func adminAPI(authorization: [UInt8]?) -> Answer {
        guard let name = runtime.config.admin.tokenEnv, let secret = environment[name], !secret.isEmpty else {
            return Answer(status: 404, contentType: "application/json", body: Array("{\"error\":\"not_found\"}\n".utf8))
        }
        let expected = Array(("Bearer " + secret).utf8)
        guard let given = authorization, ConstantTime.equals(given, expected) else {
            return Answer(status: 401, contentType: "application/json", body: Array("{\"error\":\"unauthorized\"}\n".utf8),
                          headers: [("WWW-Authenticate", "Bearer realm=\"gateway-admin\"")])
        }
        // The revocation API arrives with the store (SPEC §7).
        return Answer(status: 404, contentType: "application/json", body: Array("{\"error\":\"not_found\"}\n".utf8))
    }
}

/// When a worker last answered (loop ms); written by that worker.
final class Heartbeat: Sendable { let last = Atomic<Int64>(0) }

/// One admin client connection: keep-alive, one request at a time, no bodies.
final class AdminConnection: BufferedSocketDelegate {
    private unowned let server: AdminServer
    private let socket: BufferedSocket
    private var parser: HTTPHeadParser
    private var closing = false
    private var timer: Timer?

    init(server: AdminServer, socket: BufferedSocket, maxHeadBytes: Int) {
        self.server = server
        self.socket = socket
        parser = HTTPHeadParser(kind: .request, maxHeadBytes: maxHeadBytes)
        socket.delegate = self
    }

    func start() {
        socket.enableRead()
        timer = Timer(loop: server.loop) { [unowned self] in self.close() }
        timer?.schedule(afterMs: 30_000)
    }

    func close() {
        timer?.cancel()
        timer = nil
        socket.free()
        server.closed(self)
    }

    func socketReadable(_ socket: BufferedSocket) {
        while !closing, socket.inputLength > 0 {
            let step = socket.withFirstInputChunk { parser.parse($0) }
            switch step {
            case .needMore(let consumed):
                socket.drainInput(consumed)
                if consumed == 0 { return }
            case .complete(let head, let consumed):
                socket.drainInput(consumed)
                answer(head)
                parser.reset(kind: .request)
            case .failed(let error):
                write(AdminServer.Answer(status: error.status, contentType: "text/plain", body: Array("bad request\n".utf8)),
                      keepAlive: false, isHEAD: false)
                return
            }
        }
    }

    private func answer(_ head: HTTPHead) {
        let method = String(decoding: head.bytes[head.method], as: UTF8.self)
        let target = head.bytes[head.target]
        let pathEnd = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        let path = String(decoding: target[target.startIndex..<pathEnd], as: UTF8.self)
        let auth = head.fields.first { $0.known == .authorization }.map { Array(head.bytes[$0.value]) }
        let result = server.handle(method: method, path: path, authorization: auth)
        let hasBody = head.framing != .none
        write(result, keepAlive: head.keepAlive && !hasBody, isHEAD: method == "HEAD")
        timer?.schedule(afterMs: 30_000)
    }

    private func write(_ a: AdminServer.Answer, keepAlive: Bool, isHEAD: Bool) {
        var out: [UInt8] = []
        var headers = a.headers
        headers.append(("Content-Type", a.contentType))
        headers.append(("Cache-Control", "no-store"))
        HeadWriter.writeSimpleResponse(status: a.status, reason: HeadWriter.reasonPhrase(for: a.status),
                                       headers: headers, body: isHEAD ? [] : a.body, keepAlive: keepAlive, into: &out)
        socket.write(out.withUnsafeBytes { $0 })
        socket.flush()
        if !keepAlive {
            closing = true
            socket.disableRead()
            socket.setWriteLowWatermark(0)
            if socket.outputLength == 0 { close() }
        }
    }

    func socketWritable(_ socket: BufferedSocket) {
        if closing, socket.outputLength == 0 { close() }
    }

    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) { close() }
}
