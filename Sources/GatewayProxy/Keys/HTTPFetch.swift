import CLibevent
import CLibeventTLS
import COpenSSL
import GatewayCore
import GatewayLoop

/// One outbound HTTP/1.1 GET on an event loop (for JWKS documents): resolve
/// off the loop, connect (plain, or TLS checking the certificate against the
/// URL's host), send one request with `Connection: close`, read the response
/// head strictly and the body by Content-Length, chunked coding or until
/// close (RFC 9112 §6.3), within a body limit and one overall deadline.
///
/// Loop thread only. `completion` runs exactly once, on the loop thread and
/// never from inside `start()`, unless `cancel()` (or dropping the last
/// reference) comes first: then it never runs. The owner keeps the fetch
/// alive until completion.
final class HTTPFetch: BufferedSocketDelegate {
    struct Response: Sendable {
        var status: Int
        /// Every Cache-Control field value, joined with ", " (RFC 9110 §5.3).
        var cacheControl: String?
        var body: [UInt8]

        /// `max-age` from `cacheControl`, in seconds.
        var maxAgeSeconds: Int64? { cacheControl.flatMap { HTTPFetch.maxAgeSeconds($0) } }
    }

    /// Why a fetch failed, as a log-ready sentence fragment.
    struct Failure: Error, Equatable, CustomStringConvertible {
        var reason: String
        init(_ reason: String) { self.reason = reason }
        var description: String { reason }
    }

    typealias Completion = (Result<Response, Failure>) -> Void

    static let defaultMaxBodyBytes = 1 << 20
    static let maxHeadBytes = 32 << 10

    private enum State {
        case idle
        case resolving
        /// Connecting to `addresses[next - 1]`; TLS handshakes count as connecting.
        case connecting
        case readingHead
        case readingBody(BodyFraming)
        case done
    }

    private let loop: EventLoop
    let target: Target
    private let tls: TLSContext?
    private let timeoutMs: Int64
    private let maxBodyBytes: Int
    private var completion: Completion?
    private var state = State.idle
    private var addresses: [SocketAddress] = []
    private var nextAddress = 0
    private var lastConnectError = ""
    private var socket: BufferedSocket?
    private var deadline: Timer?
    /// A failure found inside `start()`, reported from the next loop turn.
    private var deferredFailure: Failure?
    private var parser = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false), maxHeadBytes: HTTPFetch.maxHeadBytes)
    private var chunked = ChunkedDecoder()
    private var remaining: UInt64 = 0
    private var status = 0
    private var cacheControl: String?
    private var body: [UInt8] = []

    /// `tls` is required for https targets (its CA store verifies the peer);
    /// ignored for http. `timeoutMs` bounds everything from `start()` to the
    /// last body byte.
    init(loop: EventLoop, target: Target, tls: TLSContext?, timeoutMs: Int64,
         maxBodyBytes: Int = HTTPFetch.defaultMaxBodyBytes, completion: @escaping Completion) {
        self.loop = loop
        self.target = target
        self.tls = tls
        self.timeoutMs = max(1, timeoutMs)
        self.maxBodyBytes = maxBodyBytes
        self.completion = completion
    }

    deinit { release() }

    func start() {
        guard case .idle = state else { return }
        let timer = Timer(loop: loop) { [unowned self] in
            self.finish(.failure(self.deferredFailure ?? Failure("no complete response within \(self.timeoutMs) ms")))
        }
        deadline = timer
        timer.schedule(afterMs: timeoutMs)
        if target.scheme == .https, tls == nil {
            failSoon(Failure("https without a TLS context"))
            return
        }
        state = .resolving
        let box = WeakFetch(self)
        HostResolver.resolve(host: target.host, port: target.port, on: loop) { result in
            box.fetch?.resolved(result)
        }
    }

    /// Stops the fetch; `completion` will not run.
    func cancel() {
        completion = nil
        state = .done
        release()
    }

    var isFinished: Bool { if case .done = state { return true } else { return false } }

    private func failSoon(_ failure: Failure) {
        deferredFailure = failure
        deadline?.cancel()
        deadline?.schedule(afterMs: 0)
    }

    private func release() {
        deadline?.cancel()
        socket?.free()
        socket = nil
    }

    private func finish(_ result: Result<Response, Failure>) {
        guard !isFinished else { return }
        state = .done
        release()
        let c = completion
        completion = nil
        withExtendedLifetime(self) { c?(result) }
    }

    // MARK: Connecting

    private func resolved(_ result: Result<[SocketAddress], Failure>) {
        guard case .resolving = state else { return }
        switch result {
        case .failure(let f): finish(.failure(f))
        case .success(let list):
            addresses = list
            connectNext()
        }
    }

    /// Tries the next resolved address; fails with the last error when none is left.
    private func connectNext() {
        socket?.free()
        socket = nil
        while nextAddress < addresses.count {
            let address = addresses[nextAddress]
            nextAddress += 1
            let transport: BufferedSocket.Transport
            if target.scheme == .https, let tls {
                transport = .tlsClient(tls, host: target.host)
            } else {
                transport = .plain
            }
            guard let s = BufferedSocket(loop: loop, fd: -1, transport: transport) else {
                lastConnectError = "cannot create a socket for \(address)"
                continue
            }
            s.delegate = self
            // Queued now, sent by libevent once connected (and after the
            // handshake for TLS).
            s.write(requestBytes())
            guard s.connect(to: address) else {
                lastConnectError = "connect to \(address): \(String(cString: strerror(gw_errno())))"
                s.free()
                continue
            }
            s.enableRead()  // (connect arms writing itself)
            socket = s
            state = .connecting
            return
        }
        finish(.failure(Failure(lastConnectError.isEmpty ? "no address to connect to" : lastConnectError)))
    }

    private func requestBytes() -> [UInt8] {
        Array(("GET \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
            + "Accept: application/json\r\nConnection: close\r\n"
            + "User-Agent: gateway/\(GatewayCoreVersion.string)\r\n\r\n").utf8)
    }

    // MARK: Socket events

    func socketWritable(_ socket: BufferedSocket) {}

    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) {
        switch (state, event) {
        case (.connecting, .connected):
            state = .readingHead
        case (.connecting, _):
            // Before `.connected` every error is the TCP connect or the TLS
            // handshake (certificate checks included): try the next address.
            lastConnectError = describe(event, socket, connecting: true)
            connectNext()
        case (.readingBody(.untilClose), .eof):
            socketReadable(socket)
            if !isFinished { complete() }
        default:
            if !isFinished {
                if socket.inputLength > 0 { socketReadable(socket) }
                if !isFinished {
                    finish(.failure(Failure("connection to \(target.hostHeader) ended early: \(describe(event, socket, connecting: false))")))
                }
            }
        }
    }

    private func describe(_ event: SocketEvent, _ socket: BufferedSocket, connecting: Bool) -> String {
        var sslErrors: [String] = []
        if let bev = socket.bev {
            while true {
                let e = gw_bufferevent_tls_error(bev)
                if e == 0 { break }
                var buf = [CChar](repeating: 0, count: 256)
                gw_tls_error_string(e, &buf, buf.count)
                sslErrors.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        let where_ = connecting ? "connect to \(addressText)" : "read from \(addressText)"
        if !sslErrors.isEmpty { return "\(where_): TLS: \(sslErrors.joined(separator: "; "))" }
        switch event {
        case .error(let e) where e != 0: return "\(where_): \(String(cString: strerror(e)))"
        case .eof: return "\(where_): closed by peer"
        case .timeout: return "\(where_): timeout"
        default: return "\(where_): failed"
        }
    }

    private var addressText: String {
        nextAddress > 0 && nextAddress <= addresses.count ? addresses[nextAddress - 1].description : target.hostHeader
    }

    func socketReadable(_ socket: BufferedSocket) {
        while !isFinished, socket.inputLength > 0 {
            let before = socket.inputLength
            switch state {
            case .readingHead:
                readHead(socket)
            case .readingBody(let framing):
                readBody(socket, framing)
            default:
                // Bytes before the handshake finished are not possible; bytes
                // after completion are ignored.
                return
            }
            // Nothing taken: wait for more bytes rather than spin.
            if !isFinished, socket.inputLength == before { return }
        }
    }

    private func readHead(_ socket: BufferedSocket) {
        let step = socket.withFirstInputChunk { parser.parse($0) }
        switch step {
        case .needMore(let consumed):
            socket.drainInput(consumed)
        case .failed(let error):
            finish(.failure(Failure("bad response head from \(target.hostHeader) (\(error))")))
        case .complete(let head, let consumed):
            socket.drainInput(consumed)
            if head.status >= 100, head.status < 200 {
                // Interim responses (RFC 9110 §15.2) precede the real one.
                parser.reset(kind: .response(requestMethodIsHEAD: false))
                return
            }
            status = head.status
            cacheControl = Self.cacheControl(of: head)
            switch head.framing {
            case .none:
                complete()
            case .contentLength(let n):
                guard n <= UInt64(maxBodyBytes) else {
                    finish(.failure(Failure("response body of \(n) bytes is over the \(maxBodyBytes)-byte limit")))
                    return
                }
                body.reserveCapacity(Int(n))
                remaining = n
                if n == 0 { complete() } else { state = .readingBody(head.framing) }
            case .chunked, .untilClose:
                state = .readingBody(head.framing)
            }
        }
    }

    private func readBody(_ socket: BufferedSocket, _ framing: BodyFraming) {
        switch framing {
        case .contentLength:
            let taken = socket.withFirstInputChunk { chunk -> Int in
                let n = Int(min(UInt64(chunk.count), remaining))
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                return n
            }
            socket.drainInput(taken)
            remaining -= UInt64(taken)
            if remaining == 0 { complete() }
        case .chunked:
            let (step, fits) = socket.withFirstInputChunk { chunk -> (ChunkStep, Bool) in
                let step = chunked.next(chunk)
                if case .data(let offset, let count, _) = step {
                    guard body.count + count <= maxBodyBytes else { return (step, false) }
                    body.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[offset..<(offset + count)]))
                }
                return (step, true)
            }
            guard fits else { overLimit(); return }
            switch step {
            case .data(_, _, let consumed), .needMore(let consumed):
                socket.drainInput(consumed)
            case .end(let consumed):
                socket.drainInput(consumed)
                complete()
            case .failed(let error):
                finish(.failure(Failure("bad chunked body from \(target.hostHeader) (\(error))")))
            }
        case .untilClose:
            let taken = socket.withFirstInputChunk { chunk -> Int in
                guard body.count + chunk.count <= maxBodyBytes else { return -1 }
                body.append(contentsOf: chunk)
                return chunk.count
            }
            if taken < 0 { overLimit() } else { socket.drainInput(taken) }
        case .none:
            complete()
        }
    }

    private func overLimit() {
        finish(.failure(Failure("response body is over the \(maxBodyBytes)-byte limit")))
    }

    private func complete() {
        finish(.success(Response(status: status, cacheControl: cacheControl, body: body)))
    }

    // MARK: Pure helpers

    /// Every `Cache-Control` value of `head`, joined by ", ", or nil.
    static func cacheControl(of head: HTTPHead) -> String? {
        let name = Array("cache-control".utf8)
        var values: [String] = []
        for f in head.fields where f.known == .other && f.name.count == name.count {
            var same = true
            for (i, k) in f.name.enumerated() {
                var b = head.bytes[k]
                if b >= 0x41, b <= 0x5A { b |= 0x20 }
                if b != name[i] { same = false; break }
            }
            if same { values.append(String(decoding: head.bytes[f.value], as: UTF8.self)) }
        }
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// The `max-age` directive of a Cache-Control value (RFC 9111 §5.2.2.1),
    /// in seconds: delta-seconds, also accepted in quoted form (§5.2). Nil
    /// when absent, malformed, or given twice with different values (§4.2.1
    /// treats such a response as stale). Values past 2^31 are capped there
    /// (§1.2.2).
    static func maxAgeSeconds(_ value: String) -> Int64? {
        var found: Int64?
        for directive in splitDirectives(Array(value.utf8)) {
            guard let eq = directive.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = directive[directive.startIndex..<eq]
            guard name.count == 7, String(decoding: name, as: UTF8.self).lowercased() == "max-age" else { continue }
            var arg = directive[(eq + 1)...]
            if arg.count >= 2, arg.first == UInt8(ascii: "\""), arg.last == UInt8(ascii: "\"") {
                arg = arg.dropFirst().dropLast()
            }
            guard !arg.isEmpty else { return nil }
            var seconds: Int64 = 0
            for b in arg {
                guard b >= 0x30, b <= 0x39 else { return nil }
                seconds = min(seconds * 10 + Int64(b - 0x30), 1 << 31)
            }
            if let found, found != seconds { return nil }
            found = seconds
        }
        return found
    }

    /// Comma-separated directives with surrounding whitespace removed; commas
    /// inside quoted strings do not split (RFC 9110 §5.6.1, §5.6.4).
    private static func splitDirectives(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        var quoted = false
        var escaped = false
        func push(_ end: Int) {
            var s = bytes[start..<end]
            while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
            while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
            if !s.isEmpty { out.append(s) }
        }
        for (i, b) in bytes.enumerated() {
            if escaped { escaped = false; continue }
            if quoted {
                if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { quoted = false }
                continue
            }
            if b == UInt8(ascii: "\"") { quoted = true } else if b == UInt8(ascii: ",") { push(i); start = i + 1 }
        }
        push(bytes.count)
        return out
    }
}

/// Lets the resolver thread's answer find its fetch without keeping it
/// alive. Read only on the fetch's loop thread (the answer is posted there),
/// hence unchecked.
private final class WeakFetch: @unchecked Sendable {
    weak var fetch: HTTPFetch?
    init(_ fetch: HTTPFetch) { self.fetch = fetch }
}
