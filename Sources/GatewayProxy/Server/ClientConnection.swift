import CLibevent
import GatewayAuth
import GatewayCore

/// One client TCP connection and the exchanges (request/response pairs) it
/// carries, one at a time, in order. Loop thread only.
///
/// The life of a request, in phases (see docs/ARCHITECTURE.md):
/// read head -> route -> authenticate -> pick upstream -> forward head and
/// body -> read response head -> respond -> stream body -> log -> next.
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

    /// Request body still to forward.
    enum RequestBody {
        case none
        case length(UInt64)
        case chunked(ChunkedDecoder)
        case done
    }

    /// Response progress.
    enum ResponseBody {
        case head
        case length(UInt64)
        case chunked(ChunkedDecoder)
        case untilClose
        case done
    }

    static let highWater = 256 << 10
    static let lowWater = 64 << 10

    /// The worker outlives every connection it holds (it closes them all
    /// before its loop ends), so no reference counting here.
    private unowned(unsafe) let worker: Worker
    let socket: BufferedSocket
    private let peer: SocketAddress
    private let peerText: [UInt8]
    private let peerString: String
    private(set) var state: State = .readingHead {
        didSet { Trace.transition("client", oldValue, state) }
    }

    // Per exchange.
    private var runtime: RuntimeConfig
    private var parser: HTTPHeadParser
    private var headBytesSeen = 0
    private var request: HTTPHead?
    private var requestBody: RequestBody = .none
    private var requestBodyBytes: UInt64 = 0
    private var routeIndex: Int?
    private var group: UpstreamGroup?
    private var upstream: UpstreamConnection?
    private var attempts = 0
    private var triedServer: Int?
    private var upstreamHead: [UInt8] = []
    private var responseParser: HTTPHeadParser
    private var response: ResponseBody = .head
    private var responseStarted = false
    private var chunkedToClient = false
    private var keepAlive = true
    private var status = 0
    private var startUs: Int64 = 0
    private var upstreamStartUs: Int64 = 0
    private var bytesIn: UInt64 = 0
    private var bytesOut: UInt64 = 0
    private var authLabel = AuthResultLabel.none
    /// The verified token of this exchange, if any.
    private var token: VerifiedToken?
    private var tokenRange: Range<Int>?
    private var requestID: [UInt8] = []
    private var upstreamName: String = "-"

    private var clientTimer: Timer?
    private var upstreamTimer: Timer?
    private enum UpstreamTimerPurpose { case connect, response, read }
    private var upstreamTimerPurpose = UpstreamTimerPurpose.connect
    /// Loop time of the last upstream body read, and of the last byte moved
    /// through a tunnel: their timers fire at the full period and re-arm
    /// for what is left, so a read costs a store, not a timer re-arm.
    private var lastUpstreamReadMs: Int64 = 0
    private var lastTunnelActivityMs: Int64 = 0
    /// Guards against re-entering the head loop from a synchronous answer.
    private var inHeadLoop = false

    /// "http" or "https": what X-Forwarded-Proto says for this connection.
    private let proto: [UInt8]

    init(worker: Worker, socket: BufferedSocket, peer: SocketAddress, secure: Bool) {
        proto = Array((secure ? "https" : "http").utf8)
        self.worker = worker
        self.socket = socket
        self.peer = peer
        self.peerString = peer.hostText
        self.peerText = Array(peerString.utf8)
        self.runtime = worker.runtime
        parser = HTTPHeadParser(kind: .request, maxHeadBytes: worker.runtime.config.server.maxHeaderBytes)
        responseParser = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false),
                                        maxHeadBytes: max(worker.runtime.config.server.maxHeaderBytes, 65536))
        socket.delegate = self
    }

    func start() {
        Socket.setNoDelay(socket.fd)
        socket.setReadHighWatermark(Self.highWater)
        socket.setWriteLowWatermark(Self.lowWater)
        socket.setSendTimeout(ms: runtime.config.server.sendTimeoutMs)
        socket.enableRead()
        armHeadTimer()
    }

    // MARK: - Phase 1: read the request head

    private func armHeadTimer() {
        if clientTimer == nil {
            clientTimer = Timer(loop: worker.loop) { [unowned self] in self.clientTimedOut() }
        }
        clientTimer?.schedule(afterMs: runtime.config.server.clientTimeoutMs)
    }

    private func clientTimedOut() {
        defer { flushAll() }
        switch state {
        case .readingHead:
            if headBytesSeen == 0 {
                close()  // idle keep-alive: close silently, like nginx
            } else {
                worker.metrics.countTimeout(.requestHead)
                answer(status: 408, error: "request_timeout", close: true)
            }
        case .exchanging:
            // The client stalled while sending its body.
            if !bodyIsDone {
                worker.metrics.countTimeout(.requestBody)
                abort(kind: nil)
            }
        case .tunnelling:
            let idleMs = worker.loop.nowMs() - lastTunnelActivityMs
            let limit = runtime.config.server.tunnelIdleTimeoutMs
            if idleMs < limit {
                clientTimer?.schedule(afterMs: limit - idleMs)
            } else {
                worker.metrics.countTimeout(.tunnelIdle)
                close()
            }
        case .closing:
            close()  // linger over, or the client stopped reading our answer
        default:
            break
        }
    }

    private func readHeads() {
        guard !inHeadLoop else { return }
        inHeadLoop = true
        defer { inHeadLoop = false }
        while state == .readingHead, socket.inputLength > 0 {
            let step = socket.withFirstInputChunk { parser.parse($0) }
            switch step {
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

    // MARK: - Phases 2-4: route, authenticate, pick an upstream

    private func beginExchange(_ head: HTTPHead) {
        clientTimer?.cancel()
        runtime = worker.runtime
        startUs = worker.loop.nowUs()
        bytesIn = UInt64(headBytesSeen)
        headBytesSeen = 0
        request = head
        resetResponseParser(head)
        exchangeNumber &+= 1
        awaitingKeys = false
        state = .exchanging
        keepAlive = head.keepAlive && !worker.draining
        requestID = existingRequestID(head) ?? worker.nextRequestID()
        routeIndex = nil
        authLabel = .none
        token = nil
        tokenRange = nil
        upstreamName = "-"
        attempts = 0
        triedServer = nil
        response = .head
        responseStarted = false
        requestBodyBytes = 0

        switch head.framing {
        case .none: requestBody = .none
        case .contentLength(let n): requestBody = n == 0 ? .none : .length(n)
        case .chunked: requestBody = .chunked(ChunkedDecoder())
        case .untilClose: requestBody = .none
        }

        // The normalized path, parameters cut: the reading the upstream gets too.
        let matched: Int? = head.withRoutingPath { path in
            head.bytes.withUnsafeBytes { raw in
                let host = head.hostField.map { UnsafeRawBufferPointer(rebasing: raw[head.fields[$0].value]) }
                return runtime.router.route(path: path, host: host)
            }
        }
        guard let r = matched else {
            answer(status: 404, error: "not_found", close: !bodyIsDone)
            return
        }
        routeIndex = r
        let route = runtime.config.routes[r]

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

        authenticateAndForward(head, route: route, routeIndex: r, mayWaitForKeys: true)
    }

    /// Phase 3 and on: authenticate, then pick the upstream and forward. An
    /// unknown kid with JWKS URLs configured waits (at most fetch_timeout)
    /// for one refetch and tries again (SPEC §3), once.
    private func authenticateAndForward(_ head: HTTPHead, route: RouteConfig, routeIndex r: Int, mayWaitForKeys: Bool) {
        switch AuthPhase.decide(head: head, route: route, runtime: runtime, verifier: worker.verifier,
                                cache: worker.tokenCache, nowSeconds: worker.loop.nowMs() / 1000) {
        case .pass(let label, let token, let range):
            authLabel = label
            self.token = token
            tokenRange = range
        case .reject(.unknownKeyID) where mayWaitForKeys && worker.mayRefetchKeys():
            awaitingKeys = true
            let exchange = exchangeNumber
            worker.requestKeyRefetch { [weak self] arrived in
                guard let self, self.awaitingKeys, self.exchangeNumber == exchange,
                      self.state == .exchanging, let request = self.request else { return }
                defer { self.flushAll() }
                self.awaitingKeys = false
                if arrived {
                    self.authenticateAndForward(request, route: route, routeIndex: r, mayWaitForKeys: false)
                } else {
                    self.reject(.unknownKeyID)
                }
            }
            return
        case .reject(let failure):
            reject(failure)
            return
        }

        group = runtime.routeUpstream[r]
        buildUpstreamHead(head)
        connectUpstream()
    }

    private func reject(_ failure: AuthFailure) {
        authLabel = AuthPhase.label(failure)
        answer(status: failure.httpStatus, error: failure.errorCode, description: failure.description,
               headers: [("WWW-Authenticate", failure.wwwAuthenticate)], close: !bodyIsDone)
    }

    /// Waiting for a JWKS refetch (unknown kid); the answer comes from the worker.
    private var awaitingKeys = false
    /// Counts exchanges on this connection, so a late callback can tell it
    /// belongs to one that is over.
    private var exchangeNumber = 0

    private var bodyIsDone: Bool {
        switch requestBody {
        case .none, .done: return true
        default: return false
        }
    }

    private func existingRequestID(_ head: HTTPHead) -> [UInt8]? {
        guard let f = head.fields.first(where: { $0.known == .xRequestID }) else { return nil }
        return Array(head.bytes[f.value])
    }

    private func buildUpstreamHead(_ head: HTTPHead) {
        var options = UpstreamRequestOptions(framing: .none)
        switch head.framing {
        case .contentLength(let n): options.framing = .contentLength(n)
        case .chunked: options.framing = .chunked
        default: options.framing = .none
        }
        options.tunnelUpgrade = head.isUpgrade
        options.removeFieldNames = runtime.removeRequestFields
        options.clientAddress = peerText
        options.forwardedProto = proto
        options.forwardedHost = head.hostField.map { Array(head.bytes[head.fields[$0].value]) } ?? []
        options.requestID = requestID
        if let token { options.extraFields = AuthPhase.claimHeaders(token, runtime: runtime) }
        // We speak HTTP/1.1 upstream, which requires Host; an HTTP/1.0 client
        // may not have sent one. Like nginx's $proxy_host: the group's name.
        if head.hostField == nil, let group {
            options.extraFields.append((Self.hostName, Array(group.name.utf8)))
        }
        upstreamHead.removeAll(keepingCapacity: true)
        upstreamHead.reserveCapacity(head.bytes.count + 256)
        HeadWriter.writeUpstreamRequest(head, into: &upstreamHead, options: options)
    }

    private func connectUpstream() {
        guard let group else { return }
        let now = worker.loop.nowMs()
        guard let server = group.pick(cursor: &worker.roundRobin[group.index, default: 0], nowMs: now,
                                      excluding: triedServer) else {
            answer(status: 502, error: "bad_gateway", close: !bodyIsDone)
            return
        }
        attempts += 1
        triedServer = server.id
        upstreamName = server.name
        let fresh = attempts > 1
        guard let c = fresh ? worker.pool.connectNew(server, owner: self) : worker.pool.acquire(server, owner: self) else {
            worker.metrics.countUpstreamError(upstream: group.index, kind: .connect)
            answer(status: 502, error: "bad_gateway", close: !bodyIsDone)
            return
        }
        upstream = c
        upstreamStartUs = worker.loop.nowUs()
        c.socket.setWriteLowWatermark(Self.lowWater)
        c.socket.write(upstreamHead.withUnsafeBytes { $0 })
        if c.state == .busy {
            startForwarding()
        } else {
            armUpstreamTimer(.connect, group.connectTimeoutMs)
        }
    }

    private func armUpstreamTimer(_ purpose: UpstreamTimerPurpose, _ ms: Int64) {
        if upstreamTimer == nil {
            upstreamTimer = Timer(loop: worker.loop) { [unowned self] in self.upstreamTimedOut() }
        }
        upstreamTimerPurpose = purpose
        upstreamTimer?.schedule(afterMs: ms)
    }

    private func upstreamTimedOut() {
        defer { flushAll() }
        guard state == .exchanging || state == .tunnelling, let group else { return }
        switch upstreamTimerPurpose {
        case .connect:
            upstream?.server.health.markFailed(nowMs: worker.loop.nowMs())
            worker.metrics.countUpstreamError(upstream: group.index, kind: .connect)
            worker.metrics.countTimeout(.upstreamConnect)
            dropUpstream()
            if !retry() { answer(status: 502, error: "bad_gateway", close: !bodyIsDone) }
        case .response:
            worker.metrics.countUpstreamError(upstream: group.index, kind: .timeout)
            worker.metrics.countTimeout(.upstreamResponse)
            dropUpstream()
            if responseStarted { abort(kind: nil) } else {
                answer(status: 504, error: "gateway_timeout", close: !bodyIsDone)
            }
        case .read:
            // Not reading because the client is slow: the send timeout
            // watches that side; the upstream's clock starts again when
            // reading resumes.
            if let up = upstream, !up.socket.isReading {
                upstreamTimer?.schedule(afterMs: group.readTimeoutMs)
                return
            }
            let quietMs = worker.loop.nowMs() - lastUpstreamReadMs
            if quietMs < group.readTimeoutMs {
                upstreamTimer?.schedule(afterMs: group.readTimeoutMs - quietMs)
                return
            }
            // Mid-body: the client must see a short body as short.
            worker.metrics.countUpstreamError(upstream: group.index, kind: .timeout)
            worker.metrics.countTimeout(.upstreamRead)
            abort(kind: nil)
        }
    }

    /// One more try on another server, for idempotent requests whose bytes
    /// have not been sent (SPEC §4.6). True when a retry is under way.
    private func retry() -> Bool {
        guard attempts < 2, let request, requestBodyBytes == 0, !responseStarted,
              Self.isIdempotent(request), let group, group.servers.count > 0 else { return false }
        if group.servers.count == 1 { triedServer = nil }
        connectUpstream()
        return true
    }

    private func absoluteFormIsOwnHost(_ head: HTTPHead) -> Bool {
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

    static func isIdempotent(_ head: HTTPHead) -> Bool {
        let m = head.bytes[head.method]
        switch m.count {
        case 3: return m.elementsEqual("GET".utf8) || m.elementsEqual("PUT".utf8)
        case 4: return m.elementsEqual("HEAD".utf8)
        case 5: return m.elementsEqual("TRACE".utf8)
        case 6: return m.elementsEqual("DELETE".utf8)
        case 7: return m.elementsEqual("OPTIONS".utf8)
        default: return false
        }
    }

    private func dropUpstream() {
        upstreamTimer?.cancel()
        upstream?.close()
        upstream = nil
    }

    // MARK: - Forward the request body

    private func startForwarding() {
        guard let request else { return }
        if request.expectContinue, !bodyIsDone, request.version == .http11 {
            var b: [UInt8] = []
            HeadWriter.write100Continue(into: &b)
            socket.write(b.withUnsafeBytes { $0 })
        }
        if bodyIsDone {
            requestComplete()
        } else {
            clientTimer?.schedule(afterMs: runtime.config.server.clientTimeoutMs)
            pumpRequestBody()
        }
    }

    private func pumpRequestBody() {
        guard let up = upstream, up.state == .busy else { return }
        let maxBody = runtime.config.server.maxBodyBytes
        var progressed = false
        loop: while socket.inputLength > 0 {
            switch requestBody {
            case .length(let remaining):
                let n = socket.moveInput(to: up.socket, count: Int(min(remaining, UInt64(Int.max))))
                if n == 0 { break loop }
                progressed = true
                requestBodyBytes += UInt64(n)
                if remaining - UInt64(n) == 0 {
                    requestBody = .done
                    requestComplete()
                    break loop
                }
                requestBody = .length(remaining - UInt64(n))
            case .chunked(var decoder):
                let step = socket.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    socket.drainInput(offset)
                    up.socket.writeChunkHeader(count)
                    socket.moveInput(to: up.socket, count: count)
                    up.socket.write("\r\n")
                    requestBodyBytes += UInt64(count)
                    requestBody = .chunked(decoder)
                    progressed = true
                    if maxBody > 0, requestBodyBytes > maxBody {
                        dropUpstream()
                        if responseStarted { abort(kind: nil) } else { answer(status: 413, error: "payload_too_large", close: true) }
                        return
                    }
                case .needMore(let consumed):
                    socket.drainInput(consumed)
                    requestBody = .chunked(decoder)
                    if consumed == 0 { break loop }
                    progressed = true
                case .end(let consumed):
                    socket.drainInput(consumed)
                    up.socket.write("0\r\n\r\n")
                    requestBody = .done
                    requestComplete()
                    break loop
                case .failed:
                    dropUpstream()
                    if responseStarted { abort(kind: nil) } else { answer(status: 400, error: "bad_request", close: true) }
                    return
                }
            default:
                break loop
            }
        }
        if progressed { bytesInAdd() }
        if !bodyIsDone {
            clientTimer?.schedule(afterMs: runtime.config.server.clientTimeoutMs)
            up.socket.flush()
            if up.socket.outputLength > Self.highWater { socket.disableRead() }
        }
    }

    private var lastCountedBody: UInt64 = 0
    private func bytesInAdd() {
        bytesIn += requestBodyBytes - lastCountedBody
        lastCountedBody = requestBodyBytes
    }

    private func requestComplete() {
        clientTimer?.cancel()
        if response == .headPending, let group {
            armUpstreamTimer(.response, group.responseTimeoutMs)
        }
    }

    // MARK: - Phase 5: the response head

    private func readResponseHead(_ up: UpstreamConnection) {
        guard let request else { return }
        while up.socket.inputLength > 0, case .head = response {
            let step = up.socket.withFirstInputChunk { responseParser.parse($0) }
            switch step {
            case .needMore(let consumed):
                up.socket.drainInput(consumed)
                if consumed == 0 { return }
            case .complete(let head, let consumed):
                up.socket.drainInput(consumed)
                if head.status >= 100, head.status < 200, head.status != 101 {
                    // Interim answers: our own 100 went out already; others are dropped.
                    resetResponseParser(request)
                    continue
                }
                respond(with: head, from: up)
            case .failed:
                worker.metrics.countUpstreamError(upstream: group?.index ?? 0, kind: .protocol)
                dropUpstream()
                answer(status: 502, error: "bad_gateway", close: true)
                return
            }
        }
    }

    private func resetResponseParser(_ request: HTTPHead) {
        let isHEAD = request.bytes[request.method].elementsEqual("HEAD".utf8)
        responseParser.reset(kind: .response(requestMethodIsHEAD: isHEAD))
    }

    private func respond(with head: HTTPHead, from up: UpstreamConnection) {
        guard let request else { return }
        upstreamTimer?.cancel()
        responseStarted = true
        status = head.status
        worker.metrics.observeUpstreamDuration(upstream: group?.index ?? 0, microseconds: worker.loop.nowUs() - upstreamStartUs)
        up.server.health.markSucceeded()

        if head.status == 101 {
            guard request.isUpgrade else {
                dropUpstream()
                answer(status: 502, error: "bad_gateway", close: true)
                return
            }
            var out101: [UInt8] = []
            HeadWriter.writeClientResponse(head, into: &out101, options: ClientResponseOptions(
                framing: .none, keepAlive: true, clientIsHTTP10: false, tunnelUpgrade: true,
                removeFieldNames: runtime.removeResponseFields))
            socket.write(out101.withUnsafeBytes { $0 })
            bytesOut += UInt64(out101.count)
            startTunnel(up)
            return
        }

        var options = ClientResponseOptions(framing: .none, keepAlive: true,
                                            clientIsHTTP10: request.version == .http10,
                                            removeFieldNames: runtime.removeResponseFields)
        if !head.keepAlive { keepAliveUpstream = false }
        switch head.framing {
        case .none:
            options.framing = .none
            response = .done
            chunkedToClient = false
        case .contentLength(let n):
            options.framing = .contentLength(n)
            response = n == 0 ? .done : .length(n)
            chunkedToClient = false
        case .chunked, .untilClose:
            if request.version == .http11 {
                options.framing = .chunked
                chunkedToClient = true
            } else {
                options.framing = .none  // close-delimited for HTTP/1.0
                chunkedToClient = false
                keepAlive = false
            }
            if case .chunked = head.framing { response = .chunked(ChunkedDecoder()) } else {
                response = .untilClose
                keepAliveUpstream = false
            }
        }
        if !bodyIsDone { keepAlive = false }  // answered before the upload ended
        options.keepAlive = keepAlive
        refreshPhase(response: head, request: request, options: &options)
        // Borrow the worker's buffer (swap, so no copy-on-write copy).
        var out: [UInt8] = []
        swap(&out, &worker.scratch)
        out.removeAll(keepingCapacity: true)
        HeadWriter.writeClientResponse(head, into: &out, options: options)
        socket.write(out.withUnsafeBytes { $0 })
        bytesOut += UInt64(out.count)
        swap(&out, &worker.scratch)
        if case .done = response {
            responseComplete()
            return
        }
        let exchange = exchangeNumber
        pumpResponseBody(up)
        // Still streaming (most small bodies are done by now and pay for no
        // timer): bound the gap between two reads of the rest.
        if exchangeNumber == exchange, state == .exchanging, upstream === up, let group {
            armUpstreamTimer(.read, group.readTimeoutMs)
        }
    }

    private var keepAliveUpstream = true

    // MARK: - Phase 5b: transparent refresh (SPEC §6)

    /// Adds a freshly signed token to the response when the request's token
    /// is inside the refresh window (or the upstream asked for a claim
    /// update). Never on 401/403: the upstream just refused this token.
    /// Deterministic signing plus the per-worker cache give every request
    /// that carries the same old token in one 30 s quantum the same new one.
    private func refreshPhase(response head: HTTPHead, request: HTTPHead, options: inout ClientResponseOptions) {
        guard let token, let range = tokenRange, let reissuer = runtime.reissuer,
              head.status != 401, head.status != 403, let routeIndex else { return }
        var updates: JSONObject?
        if runtime.config.routes[routeIndex].claimUpdates,
           let i = head.firstIndex(ofFieldNamed: Self.updateClaimsName) {
            switch TokenReissuer.parseClaimUpdates(head.bytes[head.fields[i].value]) {
            case .success(let object): updates = object
            case .failure(let error):
                worker.metrics.countRefresh(.error)
                OpsLog.warning("route \(runtime.routeNames[routeIndex]): ignoring malformed Gateway-Update-Claims: \(error)")
            }
        }
        let now = worker.loop.nowMs() / 1000
        switch RefreshPolicy.decide(token: token, config: runtime.config.refresh, canSign: true, now: now,
                                    forced: updates != nil) {
        case .keep:
            return
        case .cappedAge:
            worker.metrics.countRefresh(.cappedAge)
            return
        case .cappedCount:
            worker.metrics.countRefresh(.cappedCount)
            return
        case .reissue:
            break
        }
        do {
            let fresh = try request.bytes.withUnsafeBytes { raw in
                try reissuer.reissue(old: UnsafeRawBufferPointer(rebasing: raw[range]), verified: token,
                                     updates: updates, now: now, cache: worker.reissueCache)
            }
            options.extraFields.append((runtime.refreshHeader, fresh))
            options.exposeHeader = runtime.refreshHeader
            options.carriesMintedToken = true
            authLabel = .refreshed
            worker.metrics.countRefresh(updates != nil ? .claimsUpdated : .issued)
        } catch {
            worker.metrics.countRefresh(.error)
            OpsLog.error("refresh failed: \(error)")
        }
    }

    private static let updateClaimsName = Array("gateway-update-claims".utf8)
    private static let hostName = Array("Host".utf8)


    // MARK: - Stream the response body

    private func pumpResponseBody(_ up: UpstreamConnection) {
        lastUpstreamReadMs = worker.loop.nowMs()
        loop: while up.socket.inputLength > 0 {
            switch response {
            case .length(let remaining):
                let n = up.socket.moveInput(to: socket, count: Int(min(remaining, UInt64(Int.max))))
                if n == 0 { break loop }
                bytesOut += UInt64(n)
                if remaining - UInt64(n) == 0 {
                    response = .done
                    responseComplete()
                    return
                }
                response = .length(remaining - UInt64(n))
            case .chunked(var decoder):
                let step = up.socket.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    up.socket.drainInput(offset)
                    writeResponseData(from: up, count: count)
                    response = .chunked(decoder)
                case .needMore(let consumed):
                    up.socket.drainInput(consumed)
                    response = .chunked(decoder)
                    if consumed == 0 { break loop }
                case .end(let consumed):
                    up.socket.drainInput(consumed)
                    if chunkedToClient { socket.write("0\r\n\r\n"); bytesOut += 5 }
                    response = .done
                    responseComplete()
                    return
                case .failed:
                    worker.metrics.countUpstreamError(upstream: group?.index ?? 0, kind: .protocol)
                    abort(kind: nil)
                    return
                }
            case .untilClose:
                writeResponseData(from: up, count: up.socket.inputLength)
            default:
                break loop
            }
        }
        socket.flush()
        if socket.outputLength > Self.highWater { up.socket.disableRead() }
    }

    private func writeResponseData(from up: UpstreamConnection, count: Int) {
        guard count > 0 else { return }
        if chunkedToClient {
            socket.writeChunkHeader(count)
            up.socket.moveInput(to: socket, count: count)
            socket.write("\r\n")
            bytesOut += UInt64(count + 4 + max(1, (Int.bitWidth - count.leadingZeroBitCount + 3) / 4))
        } else {
            up.socket.moveInput(to: socket, count: count)
            bytesOut += UInt64(count)
        }
    }

    // MARK: - Phase 6: finish the exchange, log, next request

    private func responseComplete() {
        upstreamTimer?.cancel()
        if let up = upstream {
            upstream = nil
            if keepAliveUpstream, bodyIsDone, let group {
                worker.pool.release(up, maxIdle: group.maxIdleConnections)
            } else {
                up.close()
            }
        }
        keepAliveUpstream = true
        finishExchange()
        if keepAlive && !worker.draining {
            nextRequest()
        } else {
            closeAfterFlush()
        }
    }

    private func nextRequest() {
        request = nil
        group = nil
        state = .readingHead
        lastCountedBody = 0
        // Idle keep-alive connections keep no per-request memory.
        parser.reset(kind: .request)
        responseParser.reset(kind: .response(requestMethodIsHEAD: false))
        upstreamHead = []
        socket.enableRead()
        armHeadTimer()
        if socket.inputLength > 0 {
            readHeads()
        }
    }

    private func finishExchange() {
        let duration = worker.loop.nowUs() - startUs
        worker.metrics.countRequest(route: routeIndex, status: status)
        worker.metrics.countAuth(authLabel)
        guard let request, worker.accessLog != .off else { return }
        worker.logRequest(AccessLogEntry(
            startUs: startUs, client: peerString, head: request,
            route: routeIndex.map { runtime.routeNames[$0] } ?? "-", status: status, upstream: upstreamName,
            durationUs: duration, bytesIn: bytesIn, bytesOut: bytesOut, auth: authLabel, sub: token?.sub,
            requestID: requestID))
    }

    // MARK: - WebSocket and other upgrades

    private func startTunnel(_ up: UpstreamConnection) {
        state = .tunnelling
        clientTimer?.cancel()
        upstreamTimer?.cancel()
        keepAlive = false
        pumpTunnel(up)
        if socket.inputLength > 0 { socket.moveAllInput(to: up.socket) }
        socket.enableRead()
        clientTimer?.schedule(afterMs: runtime.config.server.tunnelIdleTimeoutMs)
    }

    private func pumpTunnel(_ up: UpstreamConnection) {
        lastTunnelActivityMs = worker.loop.nowMs()
        bytesOut += UInt64(up.socket.moveAllInput(to: socket))
        bytesIn += UInt64(socket.moveAllInput(to: up.socket))
        socket.flush()
        up.socket.flush()
        if up.socket.outputLength > Self.highWater { socket.disableRead() }
        if socket.outputLength > Self.highWater { up.socket.disableRead() }
    }

    // MARK: - Answers the gateway gives itself

    /// Sends a small JSON error and either keeps the connection for the next
    /// request or closes it after the answer has been written.
    private func answer(status: Int, error: String, description: String? = nil,
                        headers: [(String, String)] = [], close: Bool) {
        if responseStarted { abort(kind: nil); return }
        dropUpstream()
        self.status = status
        let shouldClose = close || !keepAlive || request == nil
        var body = "{\"error\":\"\(error)\""
        if let description { body += ",\"error_description\":\"\(description)\"" }
        body += "}\n"
        var hs = headers
        hs.append(("Content-Type", "application/json"))
        var out: [UInt8] = []
        swap(&out, &worker.scratch)
        out.removeAll(keepingCapacity: true)
        HeadWriter.writeSimpleResponse(status: status, reason: HeadWriter.reasonPhrase(for: status), headers: hs,
                                       body: Array(body.utf8), keepAlive: !shouldClose, into: &out)
        socket.write(out.withUnsafeBytes { $0 })
        bytesOut += UInt64(out.count)
        swap(&out, &worker.scratch)
        responseStarted = true
        if request == nil {
            // The head never parsed: nothing to log per request, but count it.
            worker.metrics.countRequest(route: nil, status: status)
        } else {
            finishExchange()
        }
        keepAlive = !shouldClose
        if shouldClose { closeAfterFlush() } else { nextRequest() }
    }

    /// The exchange cannot end cleanly (upstream died mid-body, client broke
    /// framing after the response started): deliver what was already relayed,
    /// then close without a terminating chunk, so the client sees a short
    /// body as short and never takes it for a complete one.
    private func abort(kind: UpstreamErrorKind?) {
        if let kind, let group { worker.metrics.countUpstreamError(upstream: group.index, kind: kind) }
        if status == 0 { status = 502 }
        if request != nil, state == .exchanging { finishExchange() }
        dropUpstream()
        keepAlive = false
        if state == .closing || state == .closed || !socket.isOpen { close() } else { closeAfterFlush() }
    }

    // MARK: - Closing

    /// Sends what this exchange queued on either socket (see
    /// `BufferedSocket.flush`); every entry point ends with it.
    private func flushAll() {
        socket.flush()
        upstream?.socket.flush()
    }

    /// Lingering close, as nginx and HAProxy do: write the answer, half-close,
    /// and keep reading (and discarding) for a moment. Closing with unread
    /// input makes the kernel send RST, which can destroy the answer before
    /// the client has read it (a 400 or 413 the client never sees).
    private func closeAfterFlush() {
        state = .closing
        clientTimer?.cancel()
        socket.enableRead()
        socket.setWriteLowWatermark(0)
        // Do not wait forever on a client that neither reads nor closes.
        clientTimer?.schedule(afterMs: min(runtime.config.server.clientTimeoutMs, Self.lingerMs))
        socket.flush()
        if socket.outputLength == 0 { halfClose() }
    }

    static let lingerMs: Int64 = 2_000
    private var halfClosed = false

    private func halfClose() {
        guard !halfClosed else { return }
        halfClosed = true
        _ = CLibevent.shutdown(socket.fd, Int32(SHUT_WR))
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        clientTimer?.cancel()
        upstreamTimer?.cancel()
        clientTimer = nil
        upstreamTimer = nil
        upstream?.close()
        upstream = nil
        socket.free()
        worker.connectionClosed(self)
    }

    /// Drain: an idle keep-alive connection is closed now; a busy one closes
    /// after its current exchange.
    func beginDrain() {
        if state == .readingHead, headBytesSeen == 0 { close() } else { keepAlive = false }
    }

    var isIdle: Bool { state == .readingHead && headBytesSeen == 0 }

    // MARK: - BufferedSocketDelegate (the client side)

    func socketReadable(_ socket: BufferedSocket) {
        defer { flushAll() }
        switch state {
        case .readingHead: readHeads()
        case .exchanging: if !bodyIsDone { pumpRequestBody() }
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
        case .exchanging where bodyIsDone && event.isEOF:
            // Half-close after a complete request: answer, then close.
            keepAlive = false
        case .tunnelling where event.isEOF:
            if let up = upstream { pumpTunnel(up); shutdownWrite(up.socket) }
            close()
        default:
            // The client is gone or broken: nothing more can reach it.
            if request != nil, state == .exchanging { finishExchange() }
            close()
        }
    }

    private func shutdownWrite(_ s: BufferedSocket) {
        _ = CLibevent.shutdown(s.fd, Int32(SHUT_WR))
    }

    // MARK: - UpstreamConnectionOwner

    func upstreamConnected(_ connection: UpstreamConnection) {
        defer { flushAll() }
        guard connection === upstream, state == .exchanging else { return }
        upstreamTimer?.cancel()
        connection.server.health.markSucceeded()
        startForwarding()
    }

    func upstreamReadable(_ connection: UpstreamConnection) {
        defer { flushAll() }
        guard connection === upstream else { return }
        switch state {
        case .exchanging:
            if case .head = response { readResponseHead(connection) } else { pumpResponseBody(connection) }
        case .tunnelling:
            pumpTunnel(connection)
        default:
            break
        }
    }

    func upstreamWritable(_ connection: UpstreamConnection) {
        defer { flushAll() }
        guard connection === upstream else { return }
        if state == .exchanging, !bodyIsDone, !socket.isReading,
           connection.socket.outputLength <= Self.lowWater {
            socket.enableRead()
            pumpRequestBody()
        } else if state == .tunnelling, !socket.isReading {
            socket.enableRead()
            pumpTunnel(connection)
        }
    }

    func upstreamClosed(_ connection: UpstreamConnection, _ event: SocketEvent) {
        defer { flushAll() }
        guard connection === upstream else { return }
        upstream = nil
        upstreamTimer?.cancel()
        let groupIndex = group?.index ?? 0
        switch state {
        case .tunnelling:
            closeAfterFlush()
        case .exchanging:
            if case .head = response {
                if !responseStarted {
                    // Refused connect, or a pooled connection the server had
                    // already closed (the keep-alive race): try once more.
                    if !connection.everConnected {
                        connection.server.health.markFailed(nowMs: worker.loop.nowMs())
                        worker.metrics.countUpstreamError(upstream: groupIndex, kind: .connect)
                    }
                    if retry() { return }
                }
                worker.metrics.countUpstreamError(upstream: groupIndex, kind: .reset)
                answer(status: 502, error: "bad_gateway", close: !bodyIsDone)
            } else if case .untilClose = response, event.isEOF {
                _ = connection  // the body ends with the connection
                if chunkedToClient { socket.write("0\r\n\r\n"); bytesOut += 5 }
                response = .done
                responseComplete()
            } else {
                worker.metrics.countUpstreamError(upstream: groupIndex, kind: .reset)
                abort(kind: nil)
            }
        default:
            break
        }
    }

}

extension ClientConnection.ResponseBody {
    static func == (a: Self, b: Self) -> Bool {
        if case .head = a, case .head = b { return true }
        return false
    }
    static var headPending: Self { .head }
}

extension SocketEvent {
    var isEOF: Bool { if case .eof = self { return true } else { return false } }
}
