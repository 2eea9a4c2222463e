/// One request/response pair on a client connection: what has happened so
/// far, and the decisions that follow from it. A value, made fresh from each
/// request head (Pingora's per-request CTX), so nothing one exchange learns
/// (status, byte counts, keep-alive, retries) can leak into the next: there
/// is no reset to forget. No sockets, no C, time passed in: the connection
/// moves the bytes and asks this type what to do.
///
/// The life of an exchange, as the connection drives it:
/// 1. `init(head:)`: framing of the request body, keep-alive wish, method facts.
/// 2. Phases run (route, authenticate; see the phase types in GatewayProxy).
/// 3. `beginAttempt` before each connect; `mayRetry` after a failure.
/// 4. `countRequestBody` while the body is forwarded.
/// 5. `planResponse` on the upstream head: tunnel, refuse, or stream with
///    this framing towards the client.
/// 6. `upstreamLost` when the upstream goes away: retry or 502 (before the
///    head), end of a close-delimited body, or abort (mid-body).
/// 7. `answered` / `aborted` when the gateway ends it itself.
public struct Exchange: Sendable {
    /// Request body still to forward.
    public enum RequestBody: Sendable {
        case none
        case length(UInt64)
        case chunked(ChunkedDecoder)
        case done
    }

    /// Response progress.
    public enum ResponseBody: Sendable {
        case head
        case length(UInt64)
        case chunked(ChunkedDecoder)
        case untilClose
        case done

        public var isHead: Bool { if case .head = self { return true } else { return false } }
        public var isDone: Bool { if case .done = self { return true } else { return false } }
    }

    /// Counts exchanges on one connection, so a late phase result can tell
    /// whether the exchange it belongs to is still the current one.
    public let number: Int
    /// Wall-clock µs when the exchange began: the access log's timestamp.
    public let startUs: Int64
    /// Monotonic µs when it began: what durations are measured from (the
    /// wall clock can step; see `EventLoop.monotonicUs`).
    public let startMonotonicUs: Int64
    public let isHEAD: Bool
    public let isIdempotent: Bool
    public let clientIsHTTP10: Bool
    public let isUpgrade: Bool
    public let expectContinue: Bool

    public var requestBody: RequestBody
    public private(set) var requestBodyBytes: UInt64 = 0
    public var response: ResponseBody = .head
    /// A response head (the upstream's or our own) went to the client: from
    /// here on a failure can only cut the connection.
    public private(set) var responseStarted = false
    public private(set) var chunkedToClient = false
    /// The client connection may carry another request after this one.
    public private(set) var keepAlive: Bool
    /// The upstream connection may go back to the pool afterwards.
    public private(set) var keepAliveUpstream = true
    public private(set) var status = 0
    /// Client-side bytes of this exchange only (head included), for the log.
    public var bytesIn: UInt64
    public var bytesOut: UInt64 = 0
    public var routeIndex: Int?
    public var authLabel = AuthResultLabel.none
    public private(set) var attempts = 0
    public var triedServer: Int?
    /// Monotonic µs when the current upstream attempt began.
    public var upstreamStartUs: Int64 = 0
    /// Loop time of the last upstream body read and of the last byte moved
    /// through a tunnel (see `Deadline`).
    public var lastUpstreamReadMs: Int64 = 0
    public var lastTunnelActivityMs: Int64 = 0
    /// A phase is running elsewhere; its result comes back later.
    public var waitingForPhase = false

    public init(head: HTTPHead, headBytes: Int, number: Int, startUs: Int64, startMonotonicUs: Int64? = nil,
                draining: Bool) {
        self.number = number
        self.startUs = startUs
        self.startMonotonicUs = startMonotonicUs ?? startUs
        let method = head.bytes[head.method]
        isHEAD = Exchange.bytes(method, equal: "HEAD")
        isIdempotent = Exchange.isIdempotent(method: method)
        clientIsHTTP10 = head.version == .http10
        isUpgrade = head.isUpgrade
        expectContinue = head.expectContinue
        keepAlive = head.keepAlive && !draining
        bytesIn = UInt64(headBytes)
        switch head.framing {
        case .none, .untilClose: requestBody = .none
        case .contentLength(let n): requestBody = n == 0 ? .none : .length(n)
        case .chunked: requestBody = .chunked(ChunkedDecoder())
        }
    }

    /// For an answer to bytes that never parsed as a request head (400,
    /// 408, 431): no request, and the connection closes after it.
    public init(unparsedNumber number: Int, startUs: Int64, startMonotonicUs: Int64? = nil) {
        self.number = number
        self.startUs = startUs
        self.startMonotonicUs = startMonotonicUs ?? startUs
        isHEAD = false
        isIdempotent = false
        clientIsHTTP10 = false
        isUpgrade = false
        expectContinue = false
        keepAlive = false
        bytesIn = 0
        requestBody = .none
    }

    public var bodyIsDone: Bool {
        switch requestBody {
        case .none, .done: return true
        default: return false
        }
    }

    /// Send our own `100 Continue` before forwarding: only HTTP/1.1 clients
    /// that asked and still have a body to send.
    public var wants100Continue: Bool { expectContinue && !bodyIsDone && !clientIsHTTP10 }

    /// The connection will close after this exchange (draining, a half-close
    /// from the client, a framing problem).
    public mutating func closeAfterThis() { keepAlive = false }

    public mutating func countRequestBody(_ n: Int) {
        requestBodyBytes += UInt64(n)
        bytesIn += UInt64(n)
    }

    // MARK: - Upstream attempts

    /// Before each connect (`nowUs` monotonic). The request is tried at
    /// most twice (SPEC §4.6).
    public mutating func beginAttempt(nowUs: Int64) {
        attempts += 1
        upstreamStartUs = nowUs
    }

    /// A retry goes to a fresh connection, never a pooled one.
    public var isRetry: Bool { attempts > 1 }

    /// After a failure before any response byte: one more try on another
    /// server, for idempotent requests whose body has not started upstream.
    public func mayRetry(serverCount: Int) -> Bool {
        attempts < 2 && requestBodyBytes == 0 && !responseStarted && isIdempotent && serverCount > 0
    }

    // MARK: - The response

    public enum ResponsePlan: Equatable, Sendable {
        /// 101 to an upgrade request: write the head, then tunnel.
        case tunnel
        /// 101 the client never asked for: 502.
        case refuse
        /// Write the head with this framing; `bodyDone` when nothing follows.
        case stream(BodyFraming, bodyDone: Bool)
    }

    /// Decides how the upstream's (final) response head goes to the client.
    public mutating func planResponse(_ head: HTTPHead) -> ResponsePlan {
        if head.status == 101 {
            guard isUpgrade else { return .refuse }
            status = 101
            responseStarted = true
            keepAlive = false
            return .tunnel
        }
        status = head.status
        responseStarted = true
        if !head.keepAlive { keepAliveUpstream = false }
        let framing: BodyFraming
        switch head.framing {
        case .none:
            framing = .none
            response = .done
        case .contentLength(let n):
            framing = .contentLength(n)
            response = n == 0 ? .done : .length(n)
        case .chunked, .untilClose:
            if clientIsHTTP10 {
                framing = .none  // close-delimited towards an HTTP/1.0 client
                keepAlive = false
            } else {
                framing = .chunked
                chunkedToClient = true
            }
            if case .chunked = head.framing {
                response = .chunked(ChunkedDecoder())
            } else {
                response = .untilClose
                keepAliveUpstream = false
            }
        }
        // Answered before the upload ended: the rest of it cannot be
        // skipped safely, so the connection ends with this exchange.
        if !bodyIsDone { keepAlive = false }
        return .stream(framing, bodyDone: response.isDone)
    }

    /// The response body reached its end.
    public mutating func responseFinished() { response = .done }

    /// The upstream connection may be pooled after a complete exchange.
    public var upstreamReusable: Bool { keepAliveUpstream && bodyIsDone && response.isDone }

    public enum UpstreamLoss: Equatable, Sendable {
        /// Before any response byte: retry if `mayRetry`, else 502.
        case beforeResponse
        /// A close-delimited body ended with the connection: complete.
        case bodyEnded
        /// Mid-body: the client must see the body cut short.
        case midBody
    }

    /// The upstream connection closed (EOF) or failed during the exchange.
    public func upstreamLost(eof: Bool) -> UpstreamLoss {
        switch response {
        case .head: return .beforeResponse
        case .untilClose where eof: return .bodyEnded
        default: return .midBody
        }
    }

    // MARK: - Ending it ourselves

    /// The gateway answers with `status` itself. Returns whether the
    /// connection must close afterwards.
    /// The planned response was never written: its head was held for a
    /// phase (a session start) that failed. The exchange answers on its own
    /// instead, as if no response had come.
    public mutating func withdrawResponse() {
        responseStarted = false
        keepAliveUpstream = false  // its body was never read
        chunkedToClient = false
        response = .done
    }

    public mutating func answered(status: Int, close: Bool) -> Bool {
        self.status = status
        responseStarted = true
        if close { keepAlive = false }
        return !keepAlive
    }

    /// The exchange is cut short; `status` goes to the log unless a
    /// response already went out (502 for an upstream failure, 408 for a
    /// client that stalled its upload, as nginx logs them).
    public mutating func aborted(status fallback: Int = 502) {
        if status == 0 { status = fallback }
        keepAlive = false
    }

    /// The client went away mid-exchange. Before any response went out the
    /// log says 499, as nginx's does ("client closed request").
    public mutating func clientGone() {
        if !responseStarted { status = 499 }
        keepAlive = false
    }

    static func isIdempotent(method m: ArraySlice<UInt8>) -> Bool {
        switch m.count {
        case 3: return bytes(m, equal: "GET") || bytes(m, equal: "PUT")
        case 4: return bytes(m, equal: "HEAD")
        case 5: return bytes(m, equal: "TRACE")
        case 6: return bytes(m, equal: "DELETE")
        case 7: return bytes(m, equal: "OPTIONS")
        default: return false
        }
    }

    /// Exact, case-sensitive (methods are, RFC 9110 §9.1). A String's UTF8View
    /// compared with elementsEqual cost ~100 instructions a call here.
    static func bytes(_ m: ArraySlice<UInt8>, equal literal: StaticString) -> Bool {
        literal.withUTF8Buffer { lit in
            guard m.count == lit.count else { return false }
            return m.withUnsafeBufferPointer { b in
                for i in 0..<lit.count where b[i] != lit[i] { return false }
                return true
            }
        }
    }
}
