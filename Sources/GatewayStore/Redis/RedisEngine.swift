import CHiredis
import GatewayAuth
import GatewayLoop

/// The store thread's side of `RedisStore`: two hiredis connections on one
/// event loop (commands, and the revocation channel), the connect /
/// handshake / reconnect cycle, and the resync timer. `RedisStore` reaches it
/// only by posting closures to `loop`.
///
/// Life of a connection attempt (one `generation`): resolve the host (off the
/// loop when it is a name), open both connections and queue the handshake
/// (AUTH, SELECT, session key, SCRIPT LOAD; AUTH and SUBSCRIBE on the
/// subscriber), `.up` when every step answered, then a full resync. Any
/// failure closes both connections (their unanswered commands complete with
/// nil, so their ops with `.unavailable`) and retries after the backoff.
final class RedisEngine: @unchecked Sendable {  // unchecked: used on the store thread only (posted closures)
    struct Settings {
        var url: RedisURL
        var password: String?
        var prefix: String
        var log: @Sendable (String) -> Void
        var resyncIntervalMs: Int64 = 30_000
        var connectTimeoutMs: Int64 = 3_000
        /// A command unanswered this long means a stuck server: reconnect.
        var commandTimeoutMs: Int64 = 3_000
        var firstBackoffMs: Int64 = 100
        var maxBackoffMs: Int64 = 5_000
    }

    enum Phase: Equatable {
        case idle          // waiting for the reconnect timer
        case resolving
        case handshaking
        case up
        case stopping
        case stopped
    }

    let settings: Settings
    let loop: EventLoop
    let state: RedisStoreState
    let prefix: [UInt8]
    var feed: (@Sendable (RevocationChange) -> Void)?

    private(set) var phase: Phase = .idle
    var generation = 0
    private(set) var command: RedisConnection?
    private var subscriber: RedisConnection?
    private var handshakeLeft = 0
    private var everUp = false
    private var downReason: String?
    private var backoffMs: Int64
    var scriptSHA: [RedisScript: String] = [:]
    var resync: Resync?
    /// Channel changes that came between SUBSCRIBE and `.up`: they follow
    /// the connection's first `.reset`.
    var heldBeforeUp: [RevocationChange] = []

    private var reconnectTimer: Timer?
    private var connectDeadline: Timer?
    private var watchdog: Timer?
    var resyncTimer: Timer?
    private var stopPoll: Timer?
    private var stopDeadlineMs: Int64 = 0

    init(settings: Settings, loop: EventLoop, state: RedisStoreState) {
        self.settings = settings
        self.loop = loop
        self.state = state
        self.prefix = Array(settings.prefix.utf8)
        backoffMs = settings.firstBackoffMs
    }

    var isUp: Bool { phase == .up }

    /// Why ops are refused right now.
    var unavailableReason: String {
        switch phase {
        case .stopping, .stopped: return "store stopped"
        default: return downReason.map { "redis down: \($0)" } ?? "connecting to redis at \(settings.url.description)"
        }
    }

    func key(_ name: String) -> [UInt8] { prefix + Array(name.utf8) }

    // MARK: start and stop

    /// Store thread: first connect, and the timers.
    func start(feed: @escaping @Sendable (RevocationChange) -> Void) {
        self.feed = feed
        reconnectTimer = Timer(loop: loop) { [weak self] in self?.connect() }
        connectDeadline = Timer(loop: loop) { [weak self] in
            guard let self, self.phase == .resolving || self.phase == .handshaking else { return }
            self.fail("no answer from \(self.settings.url.description) within \(self.settings.connectTimeoutMs) ms")
        }
        watchdog = Timer(loop: loop) { [weak self] in self?.watch() }
        resyncTimer = Timer(loop: loop) { [weak self] in self?.startResync() }
        stopPoll = Timer(loop: loop) { [weak self] in self?.pollStop() }
        watchdog?.schedule(afterMs: 500)
        connect()
    }

    /// Store thread: finish what Redis is answering, then close and end the loop.
    func stop() {
        guard phase != .stopping && phase != .stopped else { return }
        let wasUp = phase == .up
        phase = .stopping
        reconnectTimer?.cancel()
        connectDeadline?.cancel()
        resyncTimer?.cancel()
        subscriber?.close()
        if !wasUp { command?.close() }
        stopDeadlineMs = loop.nowMs() + 2_000
        pollStop()
    }

    private func pollStop() {
        if let command, command.pendingCount > 0, loop.nowMs() < stopDeadlineMs {
            stopPoll?.schedule(afterMs: 10)
            return
        }
        command?.close()
        subscriber?.close()
        phase = .stopped
        loop.stop()
    }

    /// Store thread, after the loop returned: free the events while the base lives.
    func releaseResources() {
        command?.close()
        subscriber?.close()
        command = nil
        subscriber = nil
        reconnectTimer = nil
        connectDeadline = nil
        watchdog = nil
        resyncTimer = nil
        stopPoll = nil
        resync = nil
    }

    // MARK: connecting

    private func connect() {
        guard phase == .idle else { return }
        generation += 1
        let gen = generation
        connectDeadline?.schedule(afterMs: settings.connectTimeoutMs)
        let host = settings.url.host
        if Self.isNumericAddress(host) {
            phase = .handshaking
            open(address: host, gen: gen)
            return
        }
        // getaddrinfo blocks: a thread of its own, the answer posted back.
        phase = .resolving
        let spawned = OSThread.spawn(name: "redis-resolve") { [self] in
            var buffer = [CChar](repeating: 0, count: 64)
            let rc = gw_resolve_host(host, &buffer, buffer.count)
            let answer: Result<String, RedisResolveError> = rc == 0
                ? .success(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                : .failure(RedisResolveError(message: String(cString: gw_resolve_error(rc))))
            self.loop.post { [self] in self.resolved(answer, gen: gen) }
        }
        if !spawned { fail("cannot start a thread to resolve \(host)") }
    }

    private func resolved(_ answer: Result<String, RedisResolveError>, gen: Int) {
        guard gen == generation, phase == .resolving else { return }
        switch answer {
        case .success(let address):
            phase = .handshaking
            open(address: address, gen: gen)
        case .failure(let e):
            fail("cannot resolve \(settings.url.host): \(e.message)")
        }
    }

    private static func isNumericAddress(_ host: String) -> Bool {
        host.contains(":") || host.allSatisfy { $0 == "." || ($0 >= "0" && $0 <= "9") }
    }

    private func open(address: String, gen: Int) {
        let cmd = RedisConnection(name: "commands", loop: loop)
        let sub = RedisConnection(name: "subscriber", loop: loop)
        command = cmd
        subscriber = sub
        for c in [cmd, sub] {
            c.onConnect = { [weak self] why in
                guard let self, gen == self.generation, let why else { return }
                self.fail(why)
            }
            c.onLost = { [weak self] why in
                guard let self, gen == self.generation else { return }
                self.fail(why)
            }
            if let why = c.connect(address: address, port: settings.url.port) {
                fail("\(settings.url.description): \(why)")
                return
            }
        }
        sub.onMessage = { [weak self] reply in
            guard let self, gen == self.generation else { return }
            self.message(reply)
        }

        handshakeLeft = 0
        for c in [cmd, sub] {
            if let password = settings.password {
                step(on: c, RESPCommand([Array("AUTH".utf8), Array(password.utf8)]), gen: gen) { _ in true }
            }
        }
        step(on: cmd, RESPCommand("SELECT", String(settings.url.db)), gen: gen) { _ in true }
        guard let candidate = state.sessionKey ?? (try? SecureRandom.bytes(32)) else {
            fail("no random bytes for the session key")
            return
        }
        let sessionKeyName = key("session-key")
        step(on: cmd, RESPCommand([Array("SET".utf8), sessionKeyName, candidate, Array("NX".utf8)]), gen: gen) { _ in true }
        step(on: cmd, RESPCommand([Array("GET".utf8), sessionKeyName]), gen: gen) { [weak self] reply in
            guard let bytes = reply.bytes, bytes.count == 32 else {
                self?.fail("\(String(decoding: sessionKeyName, as: UTF8.self)) does not hold a 32-byte key")
                return false
            }
            self?.state.setSessionKey(bytes)
            return true
        }
        for script in RedisScript.allCases {
            step(on: cmd, RESPCommand("SCRIPT", "LOAD", script.source), gen: gen) { [weak self] reply in
                guard let sha = reply.text else { return false }
                self?.scriptSHA[script] = sha
                return true
            }
        }
        // The subscription is the last step: confirmed through onMessage.
        handshakeLeft += 1
        if !sub.subscribe(key("revocations")) { fail("cannot subscribe") }
    }

    /// One handshake command: an error reply (or a check returning false)
    /// fails the attempt; the last good answer brings the store up.
    private func step(on c: RedisConnection, _ cmd: RESPCommand, gen: Int,
                      _ check: @escaping (RedisReply) -> Bool) {
        handshakeLeft += 1
        c.send(cmd) { [weak self] reply in
            guard let self, gen == self.generation, self.phase == .handshaking else { return }
            guard let reply else { return }  // closed: whoever closed it reports why
            if let e = reply.errorMessage {
                self.fail("\(cmd.name): \(e)")
                return
            }
            guard check(reply) else {
                if self.phase == .handshaking { self.fail("\(cmd.name): unexpected answer") }
                return
            }
            self.stepDone()
        }
    }

    private func stepDone() {
        handshakeLeft -= 1
        guard handshakeLeft == 0 else { return }
        connectDeadline?.cancel()
        phase = .up
        backoffMs = settings.firstBackoffMs
        if everUp || downReason != nil {
            settings.log("redis store: connected to \(settings.url.description) again")
        } else {
            settings.log("redis store: connected to \(settings.url.description)")
        }
        everUp = true
        downReason = nil
        state.setStatus(.up)
        resync = nil
        startResync()
    }

    /// The attempt or the live connection failed: close both, report, retry.
    func fail(_ why: String) {
        guard phase == .resolving || phase == .handshaking || phase == .up else { return }
        generation += 1  // callbacks of the closed connections are ignored from here
        phase = .idle
        connectDeadline?.cancel()
        resyncTimer?.cancel()
        resync = nil
        heldBeforeUp = []
        let c = command, s = subscriber
        command = nil
        subscriber = nil
        c?.close()
        s?.close()
        if downReason != why {
            settings.log("redis store: \(why); retrying in \(backoffMs) ms")
        }
        downReason = why
        if everUp { state.setStatus(.down(why)) }
        reconnectTimer?.schedule(afterMs: backoffMs)
        backoffMs = min(backoffMs * 2, settings.maxBackoffMs)
    }

    /// Every 500 ms: a command waiting too long means a stuck or vanished
    /// server; an idle connection gets a PING so that is noticed too.
    private func watch() {
        defer { if phase != .stopped { watchdog?.schedule(afterMs: 500) } }
        guard phase == .up, let command else { return }
        let age = command.oldestPendingAge(nowMs: loop.nowMs())
        if age > settings.commandTimeoutMs {
            fail("no answer from redis for \(age) ms")
        } else if command.pendingCount == 0 {
            command.send(RESPCommand("PING")) { _ in }
        }
    }

    private func message(_ reply: RedisReply) {
        guard let parts = reply.elements, parts.count >= 3, let kind = parts[0].text else { return }
        switch kind {
        case "subscribe":
            if phase == .handshaking { stepDone() }
        case "message":
            guard let payload = parts[2].bytes,
                  let change = RedisRevocationEncoding.change(fromMessage: payload) else { return }
            deliver(change)
        default:
            break
        }
    }
}

struct RedisResolveError: Error, Sendable {
    var message: String
}
