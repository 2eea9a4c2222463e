import CLibevent
import GatewayCore
import GatewayLoop

/// One admin client connection: keep-alive, one request at a time. A request
/// body is read whole before the handler runs, and bounded: over
/// `maxBodyBytes` (declared or, chunked, as it arrives) the answer is 413 and
/// the connection closes. Everything has 30 s to arrive.
final class AdminConnection: BufferedSocketDelegate {
    static let maxBodyBytes = 64 << 10
    static let idleMs: Int64 = 30_000

    private unowned let server: AdminServer
    private let socket: BufferedSocket
    private var parser: HTTPHeadParser
    private var closing = false
    /// A handler's answer is pending.
    private var waiting = false
    private var isOpen = true
    private var timer: Timer?

    /// The request whose body is being read.
    private enum Body {
        case length(UInt64)
        case chunked(ChunkedDecoder)
    }
    private var pending: (head: HTTPHead, request: AdminRequest, body: Body)?

    init(server: AdminServer, socket: BufferedSocket, maxHeadBytes: Int) {
        self.server = server
        self.socket = socket
        parser = HTTPHeadParser(kind: .request, maxHeadBytes: maxHeadBytes)
        socket.delegate = self
    }

    func start() {
        socket.enableRead()
        timer = Timer(loop: server.loop) { [unowned self] in self.close() }
        timer?.schedule(afterMs: Self.idleMs)
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        timer?.cancel()
        timer = nil
        socket.free()
        server.closed(self)
    }

    func socketReadable(_ socket: BufferedSocket) {
        if closing {
            socket.drainInput(socket.inputLength)  // lingering: read and drop
            return
        }
        while !closing, !waiting, socket.inputLength > 0 {
            if pending != nil {
                if !readBody() { return }
                continue
            }
            let step = socket.withFirstInputChunk { parser.parse($0) }
            switch step {
            case .needMore(let consumed):
                socket.drainInput(consumed)
                if consumed == 0 { return }
            case .complete(let head, let consumed):
                socket.drainInput(consumed)
                parser.reset(kind: .request)
                begin(head)
            case .failed(let error):
                write(AdminAnswer(status: error.status, contentType: "text/plain", body: Array("bad request\n".utf8)),
                      keepAlive: false, isHEAD: false)
                return
            }
        }
    }

    private func begin(_ head: HTTPHead) {
        let target = head.bytes[head.target]
        let pathEnd = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        let query = pathEnd < target.endIndex ? target[(pathEnd + 1)...] : target[pathEnd...]
        let request = AdminRequest(
            method: String(decoding: head.bytes[head.method], as: UTF8.self),
            path: String(decoding: target[target.startIndex..<pathEnd], as: UTF8.self),
            query: String(decoding: query, as: UTF8.self),
            authorization: head.fields.first { $0.known == .authorization }.map { Array(head.bytes[$0.value]) })
        switch head.framing {
        case .contentLength(let n) where n > UInt64(Self.maxBodyBytes):
            tooLarge()
        case .contentLength(let n) where n > 0:
            pending = (head, request, .length(n))
        case .chunked:
            pending = (head, request, .chunked(ChunkedDecoder()))
        default:
            answer(head, request)
        }
    }

    /// Moves body bytes from the socket into the pending request. False when
    /// more input is needed (or the connection is closing).
    private func readBody() -> Bool {
        guard var p = pending else { return true }
        switch p.body {
        case .length(let remaining):
            let taken = socket.takeInput(upTo: Int(min(remaining, UInt64(Self.maxBodyBytes))), appendingTo: &p.request.body)
            let left = remaining - UInt64(taken)
            if left > 0 {
                p.body = .length(left)
                pending = p
                return false
            }
        case .chunked(var decoder):
            while true {
                let step = socket.withFirstInputChunk { decoder.next($0) }
                switch step {
                case .data(let offset, let count, _):
                    socket.drainInput(offset)
                    if p.request.body.count + count > Self.maxBodyBytes {
                        tooLarge()
                        return false
                    }
                    _ = socket.takeInput(upTo: count, appendingTo: &p.request.body)
                case .needMore(let consumed):
                    socket.drainInput(consumed)
                    if consumed == 0 || socket.inputLength == 0 {
                        p.body = .chunked(decoder)
                        pending = p
                        return false
                    }
                case .end(let consumed):
                    socket.drainInput(consumed)
                    pending = nil
                    answer(p.head, p.request)
                    return true
                case .failed:
                    pending = nil
                    write(.error(400, "bad_request"), keepAlive: false, isHEAD: false)
                    return false
                }
            }
        }
        pending = nil
        answer(p.head, p.request)
        return true
    }

    private func tooLarge() {
        pending = nil
        write(.error(413, "payload_too_large"), keepAlive: false, isHEAD: false)
    }

    /// Runs the handler; while its answer is pending (a store write) the
    /// connection reads nothing more, so answers leave in request order, and
    /// the socket is not read either, so a client cannot pile up unbounded
    /// input behind a slow store answer.
    private func answer(_ head: HTTPHead, _ request: AdminRequest) {
        waiting = true
        timer?.cancel()
        let keepAlive = head.keepAlive, isHEAD = request.method == "HEAD"
        var paused = false
        server.handle(request) { [weak self] result in
            guard let self, self.isOpen else { return }
            self.waiting = false
            if paused { self.socket.enableRead() }
            self.write(result, keepAlive: keepAlive, isHEAD: isHEAD)
            self.timer?.schedule(afterMs: Self.idleMs)
            // Requests that arrived meanwhile (pipelined) are next.
            if !self.closing, self.socket.inputLength > 0 { self.socketReadable(self.socket) }
        }
        // Still pending (most answers are given at once, and cost no syscall here).
        if waiting {
            paused = true
            socket.disableRead()
        }
    }

    private func write(_ a: AdminAnswer, keepAlive: Bool, isHEAD: Bool) {
        var out: [UInt8] = []
        var headers = a.headers
        headers.append(("Content-Type", a.contentType))
        headers.append(("Cache-Control", "no-store"))
        HeadWriter.writeSimpleResponse(status: a.status, reason: HeadWriter.reasonPhrase(for: a.status),
                                       headers: headers, body: isHEAD ? [] : a.body, keepAlive: keepAlive, into: &out)
        socket.write(out)
        socket.flush()
        if !keepAlive {
            // Lingering close, as on the proxy listener: half-close once the
            // answer is out and drop what still arrives for a moment, so
            // unread input (the rest of a refused body) cannot turn the close
            // into a reset that destroys the answer.
            closing = true
            socket.setWriteLowWatermark(0)
            socket.drainInput(socket.inputLength)
            timer?.schedule(afterMs: Self.lingerMs)
            if socket.outputLength == 0 { halfClose() }
        }
    }

    static let lingerMs: Int64 = 2_000

    private func halfClose() {
        _ = shutdown(socket.fd, Int32(SHUT_WR))
    }

    func socketWritable(_ socket: BufferedSocket) {
        if closing, socket.outputLength == 0 { halfClose() }
    }

    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) { close() }
}
