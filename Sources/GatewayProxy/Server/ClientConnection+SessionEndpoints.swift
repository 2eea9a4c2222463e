import GatewayCore

/// The exchanges that wait for the store (SPEC §7): the session endpoints,
/// answered by the gateway after a bounded body, and `issue_session`, whose
/// response head is held until the session is durable. What the endpoints
/// do is SessionPhase's; this is how the connection reads their bodies and
/// writes their answers. Loop thread only.
extension ClientConnection {
    func beginSessionEndpoint(_ endpoint: SessionPhase.Endpoint, _ head: HTTPHead) {
        guard absoluteFormIsOwnHost(head) else {
            answer(status: 400, error: "bad_request", close: true)
            return
        }
        guard head.bytes[head.method].elementsEqual("POST".utf8) else {
            answer(status: 405, error: "method_not_allowed", headers: [("Allow", "POST")], close: !ex.bodyIsDone)
            return
        }
        if case .contentLength(let n) = head.framing, n > UInt64(SessionPhase.maxBodyBytes) {
            answer(status: 413, error: "payload_too_large", close: true)
            return
        }
        ctx.localEndpoint = endpoint
        if ex.bodyIsDone {
            runSessionEndpoint()
            return
        }
        send100ContinueIfWanted()
        clientTimer.schedule(afterMs: runtime.config.server.clientTimeoutMs)
        collectLocalBody()
    }

    /// Reads the request body into `ctx.localBody`, bounded by
    /// `SessionPhase.maxBodyBytes`, then runs the endpoint.
    func collectLocalBody() {
        switch LocalBodyCollector.collect(from: socket, exchange: &ex, into: &ctx.localBody,
                                          limit: SessionPhase.maxBodyBytes) {
        case .needMore:
            clientTimer.schedule(afterMs: runtime.config.server.clientTimeoutMs)
        case .complete:
            clientTimer.cancel()
            runSessionEndpoint()
        case .tooLarge:
            answer(status: 413, error: "payload_too_large", close: true)
        case .malformed:
            answer(status: 400, error: "bad_request", close: true)
        }
    }

    private func runSessionEndpoint() {
        guard let request, let endpoint = ctx.localEndpoint else { return }
        var body: [UInt8] = []
        swap(&body, &ctx.localBody)
        let runtime = self.runtime, worker = self.worker
        suspend({ done in
            SessionPhase.run(endpoint, request: request, body: body, runtime: runtime, worker: worker, done: done)
        }) { connection, answer in
            connection.sendLocal(status: answer.status, headers: answer.headers, body: answer.body,
                                 close: !connection.ex.bodyIsDone)
        }
    }

    /// `issue_session` (SPEC §7): the response head waits, with the upstream
    /// not read, until the store has recorded the new session; then it goes
    /// out with the session's tokens. False when the response starts no
    /// session (no usable Gateway-Session): it goes on as it is.
    func startSession(_ head: HTTPHead, from up: UpstreamConnection, options: borrowing ClientResponseOptions) -> Bool {
        up.socket.disableRead()
        var started = false
        let runtime = self.runtime, worker = self.worker
        let held = HeldResponseOptions(options.copy())
        suspend({ done in
            started = SessionPhase.issue(response: head, runtime: runtime, worker: worker, done: done)
        }) { connection, fields in
            guard let fields, connection.upstream === up else {
                // Nothing of the upstream's answer went out: answer 503
                // instead, on a connection that stays usable.
                connection.dropUpstream()
                connection.ex.withdrawResponse()
                connection.answer(status: 503, error: "temporarily_unavailable", close: !connection.ex.bodyIsDone)
                return
            }
            held.options.extraFields += fields
            held.options.exposeHeader = runtime.refreshHeader + Array(", \(SessionPhase.refreshTokenHeader)".utf8)
            held.options.carriesMintedToken = true
            up.socket.enableRead()
            connection.sendResponseHead(head, from: up, options: held.options)
        }
        if !started {
            ex.waitingForPhase = false
            up.socket.enableRead()
        }
        return started
    }
}

/// A response head's options kept while the store records a session (a
/// noncopyable value cannot ride in an escaping closure).
private final class HeldResponseOptions {
    var options: ClientResponseOptions
    init(_ options: consuming ClientResponseOptions) { self.options = options }
}
