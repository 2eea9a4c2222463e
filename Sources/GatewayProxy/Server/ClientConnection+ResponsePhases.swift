import GatewayCore

/// The response side of an exchange, phase 5: the upstream's final head
/// planned (`Exchange.planResponse`: tunnel, refuse, or stream with a
/// framing), the response phases run on it (RefreshPhase; SessionPhase.issue
/// may hold it for the store), and the client's head written. Loop thread
/// only.
extension ClientConnection {
    func respond(with head: HTTPHead, from up: UpstreamConnection) {
        guard let request else { return }
        upstreamTimer.cancel()
        worker.metrics.observeUpstreamDuration(upstream: ctx.group?.index ?? 0,
                                               microseconds: loop.monotonicUs() - ex.upstreamStartUs)
        up.server.health.markSucceeded()

        let framing: BodyFraming
        switch ex.planResponse(head) {
        case .refuse:
            dropUpstream()
            answer(status: 502, error: "bad_gateway", close: true)
            return
        case .tunnel:
            var out101: [UInt8] = []
            HeadWriter.writeClientResponse(head, into: &out101, options: ClientResponseOptions(
                framing: .none, keepAlive: true, clientIsHTTP10: false, tunnelUpgrade: true,
                removeFieldNames: runtime.removeResponseFields))
            socket.write(out101)
            ex.bytesOut += UInt64(out101.count)
            startTunnel(up)
            return
        case .stream(let f, _):
            framing = f
        }

        var options = ClientResponseOptions(framing: framing, keepAlive: ex.keepAlive,
                                            clientIsHTTP10: ex.clientIsHTTP10,
                                            removeFieldNames: runtime.removeResponseFields)
        // Only with a token (it returns at once without one; this skips
        // passing its arguments).
        if ctx.token != nil,
           let label = RefreshPhase.run(response: head, request: request, token: ctx.token, tokenRange: ctx.tokenRange,
                                        routeIndex: ex.routeIndex, runtime: runtime, worker: worker,
                                        options: &options) {
            ex.authLabel = label
        }
        if let r = ex.routeIndex, runtime.routeIssuesSession[r], (200..<300).contains(head.status),
           startSession(head, from: up, options: options) {
            return
        }
        sendResponseHead(head, from: up, options: options)
    }

    /// Writes the client's response head, then streams the body.
    func sendResponseHead(_ head: HTTPHead, from up: UpstreamConnection, options: borrowing ClientResponseOptions) {
        // Written in place, into the client's output buffer.
        let length = socket.writeHead(bound: HeadWriter.clientResponseBound(head, options)) {
            HeadWriter.writeClientResponse(head, into: &$0, options: options)
        }
        ex.bytesOut += UInt64(length)
        if ex.response.isDone {
            responseComplete()
            return
        }
        let number = ex.number
        pumpResponseBody(up)
        // Still streaming (most small bodies are done by now and pay for no
        // timer): bound the gap between two reads of the rest.
        if ex.number == number, state == .exchanging, upstream === up, let group = ctx.group {
            armUpstreamTimer(.read, group.readTimeoutMs)
        }
    }

    /// A 101 to an upgrade request went out: from here bytes pass both ways.
    func startTunnel(_ up: UpstreamConnection) {
        state = .tunnelling
        clientTimer.cancel()
        upstreamTimer.cancel()
        pumpTunnel(up)
        if socket.inputLength > 0 { socket.moveAllInput(to: up.socket) }
        socket.enableRead()
        clientTimer.schedule(afterMs: runtime.config.server.tunnelIdleTimeoutMs)
    }
}
