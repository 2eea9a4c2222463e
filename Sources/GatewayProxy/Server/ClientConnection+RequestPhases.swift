import CLibevent
import GatewayAuth
import GatewayCore

/// The request side of an exchange, phases 2 and 3: route, the checks
/// before forwarding, authenticate (AuthPhase), and `suspend`, the one way a
/// phase waits (a JWKS refetch here; the store for the session phases).
/// Ends by handing the exchange to the upstream dispatch. Loop thread only.
extension ClientConnection {
    /// Phase 2, route, and the checks before any phase runs: the session
    /// endpoints (the gateway's own), the route by longest prefix and Host,
    /// the origin the request names, the declared body size.
    @inline(__always)  // one caller, beginExchange: as it was before the split
    func routeRequest(_ head: HTTPHead) {
        // The normalized path, parameters cut: the reading the upstream gets too.
        let matched: Int? = head.withRoutingPath { path in
            head.bytes.withUnsafeBytes { raw in
                let host = head.hostField.map { UnsafeRawBufferPointer(rebasing: raw[head.fields[$0].value]) }
                return runtime.router.route(path: path, host: host)
            }
        }
        // SPEC §7: the session endpoints are the gateway's own, on every
        // listener, before any route.
        if let sessions = runtime.config.sessions,
           let endpoint = head.withRoutingPath({ SessionPhase.endpoint($0, sessions: sessions) }) {
            beginSessionEndpoint(endpoint, head)
            return
        }
        guard let r = matched else {
            answer(status: 404, error: "not_found", close: !ex.bodyIsDone)
            return
        }
        ex.routeIndex = r

        // absolute-form only for ourselves (SPEC §4.1): its authority must be
        // the Host we were given (no two readings of the origin) and name
        // this gateway: a configured route host or the address the client
        // connected to. Otherwise it is a proxy request for someone else.
        if !absoluteFormIsOwnHost(head) {
            answer(status: 400, error: "bad_request", close: true)
            return
        }

        let maxBody = runtime.config.server.maxBodyBytes
        if maxBody > 0, case .contentLength(let n) = head.framing, n > maxBody {
            answer(status: 413, error: "payload_too_large", close: true)
            return
        }

        authenticateAndForward(head, routeIndex: r, mayWaitForKeys: true)
    }

    /// Phase 3 and on: authenticate, then pick the upstream and forward. An
    /// unknown kid with JWKS URLs configured waits (at most fetch_timeout)
    /// for one refetch and tries again (SPEC §3), once.
    func authenticateAndForward(_ head: HTTPHead, routeIndex r: Int, mayWaitForKeys: Bool) {
        // An open route never copies its RouteConfig (strings and arrays: a
        // dozen retains).
        let open = runtime.routeIsOpen[r]
        if !open, !worker.revocationsReady {
            // The store has not delivered the revocations yet (Redis not
            // reached since start): no token can be checked against them.
            answer(status: 503, error: "temporarily_unavailable", close: !ex.bodyIsDone)
            return
        }
        // An open route skips the phase's arguments too (the verifier is a
        // value copied out of the worker: a dozen retains).
        let decision = open ? AuthPhase.Decision.pass(.none, nil)
            : AuthPhase.decide(head: head, route: runtime.config.routes[r], runtime: runtime, verifier: worker.verifier,
                               cache: worker.tokenCache, revocations: worker.revocations,
                               nowSeconds: loop.nowMs() / 1000)
        switch consume decision {
        case .pass(let label, let token, let range):
            ex.authLabel = label
            ctx.token = token
            ctx.tokenRange = range
        case .reject(.unknownKeyID) where mayWaitForKeys && worker.mayRefetchKeys():
            suspend(worker.requestKeyRefetch) { connection, arrived in
                if arrived, let request = connection.request {
                    connection.authenticateAndForward(request, routeIndex: r, mayWaitForKeys: false)
                } else {
                    connection.reject(.unknownKeyID)
                }
            }
            return
        case .reject(let failure):
            reject(failure)
            return
        }

        ctx.group = runtime.routeUpstream[r]
        connectUpstream()
    }

    /// A phase that finishes later (a key refetch now; store writes with
    /// sessions): `start` gets a completion to call on this loop, and
    /// `resume` runs with its result only if this exchange is still the
    /// current one and the client is still there.
    func suspend<T>(_ start: (@escaping (T) -> Void) -> Void,
                    resume: @escaping (ClientConnection, T) -> Void) {
        ex.waitingForPhase = true
        let number = ex.number
        start { [weak self] value in
            guard let self, self.ex.waitingForPhase, self.ex.number == number, self.state == .exchanging else { return }
            defer { self.flushAll() }
            self.ex.waitingForPhase = false
            resume(self, value)
        }
    }

    /// The client's own X-Request-Id, forwarded as it is.
    func existingRequestID(_ head: HTTPHead) -> Range<Int>? {
        head.firstValue(of: .xRequestID)
    }

    /// An absolute-form target names this gateway (see `routeRequest`).
    func absoluteFormIsOwnHost(_ head: HTTPHead) -> Bool {
        guard let authorityRange = head.targetAuthority else { return true }  // origin-form
        guard let h = head.hostField else { return false }
        let authority = head.bytes[authorityRange]
        let host = head.bytes[head.fields[h].value]
        guard authority.count == host.count,
              zip(authority, host).allSatisfy({ Router.lowercaseASCII($0) == Router.lowercaseASCII($1) })
        else { return false }
        let name = Router.normalizedHost(Array(authority))
        if runtime.ownHosts.contains(name) { return true }
        if let local = Socket.localAddress(socket.fd) {
            return name == Router.normalizedHost(Array(local.hostText.utf8))
        }
        return false
    }
}
