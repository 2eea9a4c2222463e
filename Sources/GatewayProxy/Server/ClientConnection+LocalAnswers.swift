import GatewayAuth
import GatewayCore

/// The answers the gateway gives itself, in place of an upstream's: the
/// small JSON errors (LocalAnswer), the session endpoints' answers, and the
/// abort that cuts an exchange whose response already started. Each ends
/// the exchange (logged once) and either keeps the connection for the next
/// request or closes it after the answer is written. Loop thread only.
extension ClientConnection {
    /// Sends a small JSON error and either keeps the connection for the next
    /// request or closes it after the answer has been written.
    func answer(status: Int, error: String, description: String? = nil,
                headers: [(String, String)] = [], close: Bool) {
        if ex.responseStarted { abort(); return }
        dropUpstream()
        let hadRequest = request != nil
        if !hadRequest {
            ex = Exchange(unparsedNumber: exchangeCount, startUs: loop.nowUs(),
                          startMonotonicUs: loop.monotonicUs())
        }
        let shouldClose = ex.answered(status: status, close: close)
        var out: [UInt8] = []
        swap(&out, &worker.scratch)
        out.removeAll(keepingCapacity: true)
        LocalAnswer.write(status: status, error: error, description: description, headers: headers,
                          keepAlive: !shouldClose, into: &out)
        finishLocalAnswer(out: &out, hadRequest: hadRequest, status: status, shouldClose: shouldClose)
    }

    /// An answer of the gateway's own with its body and fields as given
    /// (the session endpoints).
    func sendLocal(status: Int, headers: [(String, String)], body: [UInt8], close: Bool) {
        if ex.responseStarted { abort(); return }
        dropUpstream()
        let shouldClose = ex.answered(status: status, close: close)
        var out: [UInt8] = []
        swap(&out, &worker.scratch)
        out.removeAll(keepingCapacity: true)
        HeadWriter.writeSimpleResponse(status: status, reason: HeadWriter.reasonPhrase(for: status), headers: headers,
                                       body: body, keepAlive: !shouldClose, into: &out)
        finishLocalAnswer(out: &out, hadRequest: request != nil, status: status, shouldClose: shouldClose)
    }

    private func finishLocalAnswer(out: inout [UInt8], hadRequest: Bool, status: Int, shouldClose: Bool) {
        socket.write(out)
        ex.bytesOut += UInt64(out.count)
        swap(&out, &worker.scratch)
        if hadRequest {
            finishExchange()
        } else {
            // The head never parsed: nothing to log per request, but count it.
            worker.metrics.countRequest(route: nil, status: status)
        }
        if shouldClose { closeAfterFlush() } else { nextRequest() }
    }

    /// The exchange cannot end cleanly (upstream died mid-body, client broke
    /// framing after the response started): deliver what was already relayed,
    /// then close without a terminating chunk, so the client sees a short
    /// body as short and never takes it for a complete one.
    func abort(status: Int = 502) {
        ex.aborted(status: status)
        if request != nil, state == .exchanging { finishExchange() }
        dropUpstream()
        if state == .closing || state == .closed || !socket.isOpen { close() } else { closeAfterFlush() }
    }

    /// The request phase refused the token: its status, error code and
    /// challenge (RFC 6750 §3), and its label for the log and counters.
    func reject(_ failure: AuthFailure) {
        ex.authLabel = AuthPhase.label(failure)
        answer(status: failure.httpStatus, error: failure.errorCode, description: failure.description,
               headers: [("WWW-Authenticate", failure.wwwAuthenticate)], close: !ex.bodyIsDone)
    }
}
