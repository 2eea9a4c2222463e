import CLibevent
import GatewayLoop

/// What an upstream connection reports to the exchange that holds it.
protocol UpstreamConnectionOwner: AnyObject {
    func upstreamConnected(_ connection: UpstreamConnection)
    func upstreamReadable(_ connection: UpstreamConnection)
    func upstreamWritable(_ connection: UpstreamConnection)
    func upstreamClosed(_ connection: UpstreamConnection, _ event: SocketEvent)
}

/// One TCP connection to an upstream server. Either held by one exchange
/// (`owner` set) or idle in its worker's pool, where any event means the
/// server closed or misbehaved, so it is dropped. Loop thread only.
final class UpstreamConnection: BufferedSocketDelegate {
    enum State { case connecting, busy, idle, closed }

    let socket: BufferedSocket
    let server: UpstreamServer
    // @exclusivity(unchecked): see ClientConnection (loop-confined scalars).
    @exclusivity(unchecked) private(set) var state: State
    /// Strong, and cleared by every way an exchange lets go (`becomeIdle`
    /// through the pool, `close`, which also runs when the socket fails).
    /// Not weak: a weak reference gives the owner a side table, which sent
    /// every retain and release of every ClientConnection down the slow path
    /// (~400 instructions a request). A path that forgot to let go would
    /// keep both alive only until this socket closes, which clears it.
    var owner: (any UpstreamConnectionOwner)?
    /// Requests served on this connection: > 0 means it came from the pool,
    /// so a close before any response byte may be the keep-alive race.
    @exclusivity(unchecked) private(set) var requestsServed = 0
    /// False until the TCP connect completed: tells a refused connect from
    /// a reset after it.
    @exclusivity(unchecked) private(set) var everConnected = false
    /// The worker's pool, which outlives its connections (the worker
    /// closes them all before it ends). Unowned, not weak: a weak reference
    /// gave the pool a side table, which sent every retain and release of
    /// it, two a request, down the runtime's slow path.
    private unowned let pool: UpstreamPool

    init?(loop: EventLoop, server: UpstreamServer, pool: UpstreamPool) {
        guard let s = BufferedSocket(loop: loop, fd: -1) else { return nil }
        socket = s
        self.server = server
        self.pool = pool
        state = .connecting
        s.delegate = self
        guard s.connect(to: server.address) else { state = .closed; s.free(); return nil }
        s.enableRead()
    }

    func attach(_ owner: any UpstreamConnectionOwner) {
        self.owner = owner
        if state == .idle { state = .busy }
        socket.enableRead()
    }

    /// Called by the pool when the exchange is done and the connection can
    /// carry another request.
    func becomeIdle() {
        owner = nil
        state = .idle
        requestsServed += 1
        socket.setWriteLowWatermark(0)
        socket.enableRead()  // to notice the server closing it
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        owner = nil
        socket.free()
    }

    // MARK: BufferedSocketDelegate

    func socketReadable(_ socket: BufferedSocket) {
        if state == .idle {
            // An idle connection must stay silent; bytes mean a confused server.
            pool.discard(self)
            return
        }
        owner?.upstreamReadable(self)
    }

    func socketWritable(_ socket: BufferedSocket) {
        owner?.upstreamWritable(self)
    }

    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) {
        switch event {
        case .connected:
            everConnected = true
            state = owner == nil ? .idle : .busy
            Socket.setNoDelay(socket.fd)
            owner?.upstreamConnected(self)
        default:
            if state == .idle {
                pool.discard(self)
                return
            }
            let o = owner
            close()
            o?.upstreamClosed(self, event)
        }
    }
}

/// Idle keep-alive connections of one worker, per server. Loop thread only.
///
/// `max_idle_connections` bounds what is kept over time, not at every
/// instant: a released connection is always kept, and once a second the
/// least recently used ones above the limit are closed (as HAProxy's
/// pool-purge-delay does). Closing the connection just released whenever a
/// burst pushed the count over the limit made the next burst reconnect:
/// measured, about 1,500 connects a second at 256 concurrent clients.
final class UpstreamPool {
    /// Per server id, least recently used first.
    // @exclusivity(unchecked): see ClientConnection; the lists are only
    // changed by this pool's own methods, which call nothing that reaches it.
    @exclusivity(unchecked) private var idle: [[UpstreamConnection]] = []
    /// Per server id, the limit its group had at the last release.
    @exclusivity(unchecked) private var limits: [Int] = []
    private let loop: EventLoop
    private var purgeTimer: Timer?
    static let purgeIntervalMs: Int64 = 1_000

    init(loop: EventLoop) { self.loop = loop }

    /// A pooled connection to `server`, most recently used first (warm), or
    /// a new one being connected. Nil only when a socket cannot be made.
    func acquire(_ server: UpstreamServer, owner: any UpstreamConnectionOwner) -> UpstreamConnection? {
        while server.id < idle.count, let c = idle[server.id].popLast() {
            // A byte or an EOF already waiting would be read as (part of)
            // the next response, or lose the request: never reuse such a one.
            guard c.socket.isQuietForReuse() else { c.close(); continue }
            c.attach(owner)
            return c
        }
        guard let c = UpstreamConnection(loop: loop, server: server, pool: self) else { return nil }
        c.owner = owner
        return c
    }

    /// A fresh connection, bypassing the pool (retries after a pooled one failed).
    func connectNew(_ server: UpstreamServer, owner: any UpstreamConnectionOwner) -> UpstreamConnection? {
        guard let c = UpstreamConnection(loop: loop, server: server, pool: self) else { return nil }
        c.owner = owner
        return c
    }

    /// Returns a connection after a complete exchange. Kept even above
    /// `maxIdle` until the next purge; closed at once only when the group
    /// keeps none or the connection is unusable.
    func release(_ c: UpstreamConnection, maxIdle: Int) {
        let id = c.server.id
        while idle.count <= id { idle.append([]); limits.append(0) }
        limits[id] = maxIdle
        guard c.state != .closed, maxIdle > 0, c.socket.inputLength == 0 else {
            c.close()
            return
        }
        c.becomeIdle()
        idle[id].append(c)
        if idle[id].count > maxIdle { schedulePurge() }
    }

    private func schedulePurge() {
        if purgeTimer == nil {
            purgeTimer = Timer(loop: loop) { [unowned self] in self.purge() }
        }
        guard let t = purgeTimer, !t.isPending else { return }
        t.schedule(afterMs: Self.purgeIntervalMs)
    }

    /// Closes the least recently used idle connections above each limit.
    private func purge() {
        for id in idle.indices where idle[id].count > limits[id] {
            let excess = idle[id].count - limits[id]
            for c in idle[id].prefix(excess) { c.close() }
            idle[id].removeFirst(excess)
        }
    }

    func discard(_ c: UpstreamConnection) {
        c.close()
        if c.server.id < idle.count, let i = idle[c.server.id].firstIndex(where: { $0 === c }) {
            idle[c.server.id].remove(at: i)
        }
    }

    func closeAll() {
        purgeTimer?.cancel()
        for list in idle { for c in list { c.close() } }
        idle.removeAll()
        limits.removeAll()
    }

    var idleCount: Int { idle.reduce(0) { $0 + $1.count } }
}
