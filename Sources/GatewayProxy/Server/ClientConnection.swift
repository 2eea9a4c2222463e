import CLibevent
import GatewayAuth
import GatewayCore
import GatewayLoop

/// One client TCP connection and the exchanges (request/response pairs) it
/// carries, one at a time, in order: the HTTP/1 codec and the socket I/O
/// that carry out what the exchange (GatewayCore/Exchange) decides. Loop
/// thread only; the extensions in ClientConnection+*.swift share its state.
///
/// The life of a request, top to bottom (see docs/ARCHITECTURE.md):
/// 1. read head: `readHeads`, `beginExchange` (here);
/// 2. route and admit: `routeRequest` (+RequestPhases);
/// 3. authenticate: `authenticateAndForward`, may `suspend` (+RequestPhases);
/// 4. pick upstream, connect, retry: `connectUpstream` (+UpstreamDispatch);
/// 5. forward the body: `startForwarding`, `pumpRequestBody` (here, RequestBodyPump);
/// 6. response head: `readResponseHead` (here), `respond` (+ResponsePhases);
/// 7. stream the body: `pumpResponseBody` (here, ResponseBodyPump);
/// 8. log and next: `responseComplete`, `finishExchange`, `nextRequest` (here).
/// Other ends: the gateway's own answers and `abort` (+LocalAnswers), the
/// session endpoints (+SessionEndpoints), timeouts and close (+Closing).
///
/// Bodies never sit in memory: bytes move between the two sockets' evbuffers
/// (chains change owner, nothing is copied), and each side reads only while
/// the other side's output is under `highWater` (backpressure).
final class ClientConnection: BufferedSocketDelegate, UpstreamConnectionOwner {
    enum State: Equatable {
        /// Waiting for (more of) a request head; idle keep-alive included.
        case readingHead
        /// A request is being forwarded and/or its response streamed back.
        case exchanging
        /// After a 101: bytes pass both ways untouched.
        case tunnelling
        /// Answer written; close once the output has drained.
        case closing
        case closed
    }

    static let highWater = 256 << 10
    static let lowWater = 64 << 10

    /// Strong, and a `let`: the worker's table of connections and this
    /// reference make a cycle that `close` breaks (the worker drops the
    /// connection). An `unowned(unsafe)` reference cost more: every call
    /// through it retained and released what it read, where a `let` of this
    /// object is borrowed.
    let worker: Worker
    /// The worker's loop, head pool and upstream pool, held here (none of
    /// them holds this connection): a call through `worker` retained and
    /// released them, a pair per call, where a `let` of this object is
    /// borrowed.
    let loop: EventLoop
    let headPool: HeadBufferPool
    let pool: UpstreamPool
    let socket: BufferedSocket
    let peer: SocketAddress
    let peerText: [UInt8]
    let peerString: String
    // Exclusivity: the per-exchange state below is marked
    // `@exclusivity(unchecked)`. Swift checks, at run time, that no two
    // accesses to a class's stored property overlap; on the request path
    // that check cost about 80 instructions an access, 6,500 a request in
    // the profile (a sixth of the total). It can never fire here: the object
    // lives on one loop thread, and what these properties hold (Exchange,
    // the parsers, ExchangeContext) are values whose mutating methods have
    // no path back to this connection, so no access can start inside
    // another. The compile-time checks stay. Bounds and overflow checks are
    // untouched.
    @exclusivity(unchecked) var state: State = .readingHead {
        didSet { Trace.transition("client", oldValue, state) }
    }

    @exclusivity(unchecked) var runtime: RuntimeConfig
    @exclusivity(unchecked) var parser: HTTPHeadParser
    @exclusivity(unchecked) var headBytesSeen = 0
    @exclusivity(unchecked) var responseParser: HTTPHeadParser

    // The current exchange: both made fresh from each request head, so no
    // field outlives its exchange (see GatewayCore/Exchange/Exchange.swift).
    @exclusivity(unchecked) var ex: Exchange
    @exclusivity(unchecked) var ctx = ExchangeContext()
    @exclusivity(unchecked) var request: HTTPHead?
    /// The last exchange's request head, for the worker's buffer pool.
    @exclusivity(unchecked) var retiredRequest: HTTPHead?
    @exclusivity(unchecked) var upstream: UpstreamConnection?
    /// How upstream heads are written: the connection's part set once
    /// (`UpstreamRequestPhase.connectionOptions`), the exchange's part by
    /// `UpstreamRequestPhase.prepare` before each attempt.
    @exclusivity(unchecked) var upstreamOptions: UpstreamRequestOptions
    /// Exchanges begun on this connection (`Exchange.number`).
    @exclusivity(unchecked) var exchangeCount = 0

    /// The connection's two deadlines (lazy timers), made with it and freed
    /// when it closes: `let`s, so arming one costs no reference counting.
    let clientTimer: Timer
    let upstreamTimer: Timer
    @exclusivity(unchecked) var upstreamTimerPurpose = UpstreamTimerPurpose.connect
    /// The lingering close sent its FIN.
    @exclusivity(unchecked) var halfClosed = false
    /// Guards against re-entering the head loop from a synchronous answer.
    @exclusivity(unchecked) var inHeadLoop = false

    /// "http" or "https": what X-Forwarded-Proto says for this connection.
    let proto: [UInt8]

    init(worker: Worker, socket: BufferedSocket, peer: SocketAddress, secure: Bool) {
        proto = Array((secure ? "https" : "http").utf8)
        self.worker = worker
        self.loop = worker.loop
        self.headPool = worker.headPool
        self.pool = worker.pool
        clientTimer = Timer(loop: worker.loop, lazy: true)
        upstreamTimer = Timer(loop: worker.loop, lazy: true)
        self.socket = socket
        self.peer = peer
        self.peerString = peer.hostText
        self.peerText = Array(peerString.utf8)
        self.runtime = worker.runtime
        parser = HTTPHeadParser(kind: .request, maxHeadBytes: worker.runtime.config.server.maxHeaderBytes)
        responseParser = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false),
                                        maxHeadBytes: max(worker.runtime.config.server.maxHeaderBytes, 65536))
        ex = Exchange(unparsedNumber: 0, startUs: 0)
        upstreamOptions = UpstreamRequestPhase.connectionOptions(clientAddress: peerText, proto: proto,
                                                                 runtime: worker.runtime)
        parser.pool = headPool
        responseParser.pool = headPool
        socket.delegate = self
        clientTimer.onFire { [unowned self] in self.clientTimedOut() }
        upstreamTimer.onFire { [unowned self] in self.upstreamTimedOut() }
    }

    func start() {
        Socket.setNoDelay(socket.fd)
        socket.setReadHighWatermark(Self.highWater)
        socket.setWriteLowWatermark(Self.lowWater)
        socket.setSendTimeout(ms: runtime.config.server.sendTimeoutMs)
        socket.enableRead()
        armHeadTimer()
    }

    // MARK: - 1. Read the request head (2-4: +RequestPhases, +UpstreamDispatch)

    func armHeadTimer() {
        clientTimer.schedule(afterMs: runtime.config.server.clientTimeoutMs)
    }

    func readHeads() {
        guard !inHeadLoop else { return }
        inHeadLoop = true
        defer { inHeadLoop = false }
        while state == .readingHead, socket.inputLength > 0 {
            let step = socket.withFirstInputChunk { parser.parse($0) }
            switch consume step {
            case .needMore(let consumed):
                socket.drainInput(consumed)
                headBytesSeen += consumed
                if consumed == 0 { return }
            case .complete(let head, let consumed):
                socket.drainInput(consumed)
                headBytesSeen += consumed
                beginExchange(head)
            case .failed(let error):
                answer(status: error.status, error: error.status == 431 ? "request_header_too_large" : "bad_request",
                       close: true)
                return
            }
        }
    }

    /// A request head arrived: a fresh exchange and context for it, then
    /// the request phases.
    func beginExchange(_ head: HTTPHead) {
        clientTimer.cancel()
        if runtime !== worker.runtime {   // a reload: this exchange takes it up
            runtime = worker.runtime
            upstreamOptions = UpstreamRequestPhase.connectionOptions(clientAddress: peerText, proto: proto,
                                                                     runtime: runtime)
        }
        exchangeCount &+= 1
        ex = Exchange(head: head, headBytes: headBytesSeen, number: exchangeCount,
                      startUs: loop.nowUs(),
                      startMonotonicUs: loop.monotonicUs(), draining: worker.draining)
        // The context is fresh: made with the connection, or by `nextRequest`
        // when the last exchange ended (the only way back to reading a head).
        ctx.requestID = existingRequestID(head).map { .received($0) } ?? .generated(worker.nextRequestID())
        headBytesSeen = 0
        request = head
        resetResponseParser()
        state = .exchanging

        routeRequest(head)
    }

    // MARK: - 5. Forward the request body

    func startForwarding() {
        send100ContinueIfWanted()
        if ex.bodyIsDone {
            requestComplete()
        } else {
            clientTimer.schedule(afterMs: runtime.config.server.clientTimeoutMs)
            pumpRequestBody()
        }
    }

    func pumpRequestBody() {
        guard let up = upstream, up.state == .busy else { return }
        switch RequestBodyPump.pump(from: socket, to: up.socket, exchange: &ex,
                                    maxBody: runtime.config.server.maxBodyBytes) {
        case .needMore:
            guard !ex.bodyIsDone else { return }
            clientTimer.schedule(afterMs: runtime.config.server.clientTimeoutMs)
            up.socket.flush()
            if up.socket.outputLength > Self.highWater { socket.disableRead() }
        case .complete:
            requestComplete()
        case .tooLarge:
            dropUpstream()
            if ex.responseStarted { abort() } else { answer(status: 413, error: "payload_too_large", close: true) }
        case .malformed:
            dropUpstream()
            if ex.responseStarted { abort() } else { answer(status: 400, error: "bad_request", close: true) }
        }
    }

    /// Our own `100 Continue` (see `Exchange.wants100Continue`).
    @inline(__always)  // on every exchange; almost always just the check
    func send100ContinueIfWanted() {
        guard ex.wants100Continue else { return }
        var b: [UInt8] = []
        HeadWriter.write100Continue(into: &b)
        socket.write(b)
    }

    func requestComplete() {
        clientTimer.cancel()
        if ex.response.isHead, let group = ctx.group {
            armUpstreamTimer(.response, group.responseTimeoutMs)
        }
    }

    // MARK: - 6. The response head (planned in +ResponsePhases)

    func readResponseHead(_ up: UpstreamConnection) {
        guard request != nil else { return }
        while up.socket.inputLength > 0, ex.response.isHead {
            var completed: HTTPHead?
            do {  // the parse step is gone at the end of this block
                let step = up.socket.withFirstInputChunk { responseParser.parse($0) }
                switch consume step {
                case .needMore(let consumed):
                    up.socket.drainInput(consumed)
                    if consumed == 0 { return }
                    continue
                case .complete(let head, let consumed):
                    up.socket.drainInput(consumed)
                    completed = head
                case .failed:
                    worker.metrics.countUpstreamError(upstream: ctx.group?.index ?? 0, kind: .protocol)
                    dropUpstream()
                    answer(status: 502, error: "bad_gateway", close: true)
                    return
                }
            }
            guard let status = completed?.status else { return }
            if status >= 100, status < 200, status != 101 {
                // Interim answers: our own 100 went out already; others are dropped.
                resetResponseParser()
            } else if let head = completed {
                respond(with: head, from: up)
            }
            // The response head is done with: its buffers serve the next one.
            headPool.recycle(&completed)
        }
    }

    /// Ready for this exchange's response: a HEAD's has no body.
    func resetResponseParser() {
        responseParser.reset(kind: .response(requestMethodIsHEAD: ex.isHEAD))
    }

    // MARK: - 7. Stream the response body

    func pumpResponseBody(_ up: UpstreamConnection) {
        ex.lastUpstreamReadMs = loop.nowMs()
        switch ResponseBodyPump.pump(from: up.socket, to: socket, exchange: &ex, highWater: Self.highWater) {
        case .needMore:
            break
        case .complete:
            responseComplete()
        case .malformed:
            worker.metrics.countUpstreamError(upstream: ctx.group?.index ?? 0, kind: .protocol)
            abort()
        }
    }

    // MARK: - 8. Finish the exchange, log, next request

    func responseComplete() {
        upstreamTimer.cancel()
        if let up = upstream {
            upstream = nil
            if ex.upstreamReusable, let group = ctx.group {
                pool.release(up, maxIdle: group.maxIdleConnections)
            } else {
                up.close()
            }
        }
        finishExchange()
        if ex.keepAlive && !worker.draining {
            nextRequest()
        } else {
            closeAfterFlush()
        }
    }

    func nextRequest() {
        // Recycled on the next read event, when no frame of this exchange
        // holds the head any more (see `socketReadable`).
        retiredRequest = request
        request = nil
        ctx = ExchangeContext()
        UpstreamRequestPhase.clear(&upstreamOptions)
        state = .readingHead
        // Idle keep-alive connections keep no per-request memory: the
        // response parser too, which an exchange that ended mid-head (a 504)
        // left holding bytes (cheap after a finished head: nothing is set).
        parser.reset(kind: .request)
        responseParser.reset(kind: .response(requestMethodIsHEAD: false))
        socket.enableRead()
        armHeadTimer()
        if socket.inputLength > 0 {
            readHeads()
        }
    }

    /// The logging phase: counters and one access-log line per exchange.
    func finishExchange() {
        let duration = loop.monotonicUs() - ex.startMonotonicUs
        worker.metrics.countRequest(route: ex.routeIndex, status: ex.status)
        worker.metrics.countAuth(ex.authLabel)
        guard let request, worker.accessLog != .off else { return }
        worker.logRequest(AccessLogEntry(
            startUs: ex.startUs, client: peerString, head: request,
            route: ex.routeIndex.map { runtime.routeNames[$0] } ?? "-", status: ex.status,
            upstream: ctx.upstreamName, durationUs: duration, bytesIn: ex.bytesIn, bytesOut: ex.bytesOut,
            auth: ex.authLabel, sub: ctx.token?.sub, requestID: ctx.requestID.bytes(in: request)))
    }

    // MARK: - WebSocket and other upgrades (started by `respond`)

    func pumpTunnel(_ up: UpstreamConnection) {
        TunnelPump.pump(client: socket, upstream: up.socket, exchange: &ex, nowMs: loop.nowMs(),
                        highWater: Self.highWater)
    }

    /// Sends what this exchange queued on either socket (see
    /// `BufferedSocket.flush`); every entry point ends with it.
    func flushAll() {
        socket.flush()
        upstream?.socket.flush()
    }

    // MARK: - BufferedSocketDelegate (the client side)

    func socketReadable(_ socket: BufferedSocket) {
        defer {
            flushAll()
            if retiredRequest != nil { headPool.recycle(&retiredRequest) }   // as in upstreamReadable
        }
        if retiredRequest != nil { headPool.recycle(&retiredRequest) }
        switch state {
        case .readingHead: readHeads()
        case .exchanging:
            if !ex.bodyIsDone { if ctx.localEndpoint != nil { collectLocalBody() } else { pumpRequestBody() } }
        case .tunnelling: if let up = upstream { pumpTunnel(up) }
        case .closing: socket.drainInput(socket.inputLength)
        case .closed: break
        }
    }

    func socketWritable(_ socket: BufferedSocket) {
        defer { flushAll() }
        switch state {
        case .closing:
            if socket.outputLength == 0 { halfClose() }
        case .exchanging, .tunnelling:
            // The client caught up: let the upstream side flow again.
            if let up = upstream, !up.socket.isReading, socket.outputLength <= Self.lowWater {
                up.socket.enableRead()
                upstreamReadable(up)
            }
        default:
            break
        }
    }

    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) {
        defer { flushAll() }
        // bufferevent_openssl reports a finished server-side handshake as
        // "connected": nothing to do, the request follows.
        if case .connected = event { return }
        // The only timeout set on a client socket is the send timeout.
        if case .timeout = event { worker.metrics.countTimeout(.send) }
        switch state {
        case .closing:
            close()
        case .exchanging where ex.bodyIsDone && event.isEOF:
            // Half-close after a complete request: answer, then close.
            ex.closeAfterThis()
        case .tunnelling where event.isEOF:
            if let up = upstream { pumpTunnel(up); shutdownWrite(up.socket) }
            close()
        default:
            // The client is gone or broken: nothing more can reach it.
            if request != nil, state == .exchanging {
                ex.clientGone()
                finishExchange()
            }
            close()
        }
    }

    // MARK: - UpstreamConnectionOwner (connected, closed: ClientConnection+UpstreamDispatch)

    func upstreamReadable(_ connection: UpstreamConnection) {
        defer {
            flushAll()
            // The exchange may have finished in this call: once its frames
            // are gone, its request head goes back to the pool now, so an
            // idle keep-alive connection holds no head (10,000 idle clients).
            if retiredRequest != nil { headPool.recycle(&retiredRequest) }
        }
        guard connection === upstream else { return }
        switch state {
        case .exchanging:
            if ex.response.isHead { readResponseHead(connection) } else { pumpResponseBody(connection) }
        case .tunnelling:
            pumpTunnel(connection)
        default:
            break
        }
    }

    func upstreamWritable(_ connection: UpstreamConnection) {
        defer { flushAll() }
        guard connection === upstream else { return }
        if state == .exchanging, !ex.bodyIsDone, !socket.isReading,
           connection.socket.outputLength <= Self.lowWater {
            socket.enableRead()
            pumpRequestBody()
        } else if state == .tunnelling, !socket.isReading {
            socket.enableRead()
            pumpTunnel(connection)
        }
    }
}

extension SocketEvent {
    var isEOF: Bool { if case .eof = self { return true } else { return false } }
}
