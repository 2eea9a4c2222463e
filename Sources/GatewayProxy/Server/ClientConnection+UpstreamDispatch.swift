import GatewayCore
import GatewayLoop

/// Phase 4, upstreamPeer, and what can go wrong with it: pick a server
/// (round robin over the usable ones), a pooled connection or a new connect,
/// the upstream head written per attempt, the connect/response/read
/// timeouts, one retry on another server (SPEC §4.6), and the upstream
/// connection's connected and closed events. Loop thread only.
extension ClientConnection {
    enum UpstreamTimerPurpose { case connect, response, read }

    func connectUpstream() {
        guard let group = ctx.group, let request else { return }
        let now = loop.nowMs()
        if group.index >= worker.roundRobin.count {
            worker.roundRobin.append(contentsOf: repeatElement(0, count: group.index + 1 - worker.roundRobin.count))
        }
        guard let server = group.pick(cursor: &worker.roundRobin[group.index], nowMs: now,
                                      excluding: ex.triedServer) else {
            answer(status: 502, error: "bad_gateway", close: !ex.bodyIsDone)
            return
        }
        ex.beginAttempt(nowUs: loop.monotonicUs())
        ex.triedServer = server.id
        ctx.upstreamName = server.name
        guard let c = ex.isRetry ? pool.connectNew(server, owner: self) : pool.acquire(server, owner: self)
        else {
            worker.metrics.countUpstreamError(upstream: group.index, kind: .connect)
            answer(status: 502, error: "bad_gateway", close: !ex.bodyIsDone)
            return
        }
        upstream = c
        c.socket.setWriteLowWatermark(Self.lowWater)
        // Written per attempt (a retry writes it again), in place, into the
        // upstream connection's output buffer.
        UpstreamRequestPhase.prepare(&upstreamOptions, for: request, token: ctx.token, requestID: ctx.requestID,
                                     group: group, runtime: runtime)
        _ = c.socket.writeHead(bound: HeadWriter.upstreamRequestBound(request, upstreamOptions)) {
            HeadWriter.writeUpstreamRequest(request, into: &$0, options: upstreamOptions)
        }
        if c.state == .busy {
            startForwarding()
        } else {
            armUpstreamTimer(.connect, group.connectTimeoutMs)
        }
    }

    func armUpstreamTimer(_ purpose: UpstreamTimerPurpose, _ ms: Int64) {
        upstreamTimerPurpose = purpose
        upstreamTimer.schedule(afterMs: ms)
    }

    func upstreamTimedOut() {
        defer { flushAll() }
        guard state == .exchanging || state == .tunnelling, let group = ctx.group else { return }
        switch upstreamTimerPurpose {
        case .connect:
            upstream?.server.health.markFailed(nowMs: loop.nowMs())
            worker.metrics.countUpstreamError(upstream: group.index, kind: .connect)
            worker.metrics.countTimeout(.upstreamConnect)
            dropUpstream()
            if !retry(sameServerToo: false) { answer(status: 502, error: "bad_gateway", close: !ex.bodyIsDone) }
        case .response:
            worker.metrics.countUpstreamError(upstream: group.index, kind: .timeout)
            worker.metrics.countTimeout(.upstreamResponse)
            dropUpstream()
            if ex.responseStarted { abort() } else {
                answer(status: 504, error: "gateway_timeout", close: !ex.bodyIsDone)
            }
        case .read:
            // Not reading because the client is slow: the send timeout
            // watches that side; the upstream's clock starts again when
            // reading resumes.
            if let up = upstream, !up.socket.isReading {
                upstreamTimer.schedule(afterMs: group.readTimeoutMs)
                return
            }
            switch Deadline.check(lastActivityMs: ex.lastUpstreamReadMs, nowMs: loop.nowMs(),
                                  limitMs: group.readTimeoutMs) {
            case .rearm(let ms):
                upstreamTimer.schedule(afterMs: ms)
            case .expired:
                // Mid-body: the client must see a short body as short.
                worker.metrics.countUpstreamError(upstream: group.index, kind: .timeout)
                worker.metrics.countTimeout(.upstreamRead)
                abort()
            }
        }
    }

    /// One more try on another server, for idempotent requests whose bytes
    /// have not been sent (SPEC §4.6). True when a retry is under way.
    ///
    /// With one server there is no other: the same one is tried again only
    /// when `sameServerToo` (a connection that was up and closed before any
    /// response, the keep-alive race, which a fresh connection fixes). A
    /// refused or timed-out connect is not repeated there: it would fail
    /// the same way and double the client's wait (a black-holed server:
    /// 2 x connect_timeout).
    func retry(sameServerToo: Bool) -> Bool {
        guard let group = ctx.group, ex.mayRetry(serverCount: group.servers.count) else { return false }
        if group.servers.count == 1 {
            guard sameServerToo else { return false }
            ex.triedServer = nil
        }
        connectUpstream()
        return true
    }

    func dropUpstream() {
        upstreamTimer.cancel()
        upstream?.close()
        upstream = nil
    }

    func upstreamConnected(_ connection: UpstreamConnection) {
        defer { flushAll() }
        guard connection === upstream, state == .exchanging else { return }
        upstreamTimer.cancel()
        connection.server.health.markSucceeded()
        startForwarding()
    }

    func upstreamClosed(_ connection: UpstreamConnection, _ event: SocketEvent) {
        defer { flushAll() }
        guard connection === upstream else { return }
        upstream = nil
        upstreamTimer.cancel()
        let groupIndex = ctx.group?.index ?? 0
        if ex.waitingForPhase, state == .exchanging {
            // The response head is held for the store (issue_session) and
            // its upstream broke meanwhile: nothing usable to deliver.
            ex.waitingForPhase = false
            worker.metrics.countUpstreamError(upstream: groupIndex, kind: .reset)
            ex.withdrawResponse()
            answer(status: 502, error: "bad_gateway", close: !ex.bodyIsDone)
            return
        }
        switch state {
        case .tunnelling:
            closeAfterFlush()
        case .exchanging:
            switch ex.upstreamLost(eof: event.isEOF) {
            case .beforeResponse:
                // Refused connect, or a connection that closed before any
                // response byte (a pooled one the server had already closed:
                // the keep-alive race): try once more. Each failure counts
                // once: a refused connect as `connect`, the other as `reset`.
                let refused = !connection.everConnected
                if refused {
                    connection.server.health.markFailed(nowMs: loop.nowMs())
                    worker.metrics.countUpstreamError(upstream: groupIndex, kind: .connect)
                } else {
                    worker.metrics.countUpstreamError(upstream: groupIndex, kind: .reset)
                }
                if retry(sameServerToo: !refused) { return }
                answer(status: 502, error: "bad_gateway", close: !ex.bodyIsDone)
            case .bodyEnded:
                // The body ends with the connection.
                ResponseBodyPump.finish(to: socket, exchange: &ex)
                responseComplete()
            case .midBody:
                worker.metrics.countUpstreamError(upstream: groupIndex, kind: .reset)
                abort()
            }
        default:
            break
        }
    }
}
