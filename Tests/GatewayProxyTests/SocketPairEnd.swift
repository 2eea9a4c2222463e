import CLibevent
import GatewayCore
import GatewayLoop
@testable import GatewayProxy

/// A `BufferedSocket` on one end of a Unix socket pair, the other end held
/// by the test: bytes the test `send`s arrive in the socket's input through
/// the real read path, and what the code under test writes to the socket is
/// `received` at the far end. For the pump tests, which need real evbuffers.
/// Test thread only (it runs `loop` itself).
final class SocketPairEnd: BufferedSocketDelegate {
    struct Failed: Error {}

    let loop: EventLoop
    let socket: BufferedSocket
    private let far: Int32
    /// The test's end, for tests that read it at their own pace.
    var farFD: Int32 { far }

    init(loop: EventLoop) throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw Failed() }
        _ = evutil_make_socket_nonblocking(fds[0])
        _ = evutil_make_socket_nonblocking(fds[1])
        guard let s = BufferedSocket(loop: loop, fd: fds[0]) else { close(fds[1]); throw Failed() }
        self.loop = loop
        socket = s
        far = fds[1]
        s.delegate = self
    }

    deinit {
        socket.free()
        close(far)
    }

    /// Writes `bytes` at the far end and runs the loop until they are all
    /// in the socket's input.
    func send(_ bytes: [UInt8]) {
        let want = socket.inputLength + bytes.count
        _ = bytes.withUnsafeBytes { write(far, $0.baseAddress, $0.count) }
        socket.enableRead()
        while socket.inputLength < want { loop.run() }
        socket.disableRead()
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Flushes the socket and returns everything that reached the far end.
    func received() -> [UInt8] {
        socket.flush()
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(far, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n <= 0 { break }
            got += buf[0..<n]
        }
        return got
    }

    /// The socket's unread input, left where it was.
    var input: [UInt8] {
        socket.withFirstInputChunk { Array($0) }
    }

    func socketReadable(_ socket: BufferedSocket) { loop.stop() }
    func socketWritable(_ socket: BufferedSocket) {}
    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) { loop.stop() }
}

/// Heads parsed by the real parser, for exchanges in the pump tests.
enum PumpFixtures {
    static func head(_ text: String, kind: HTTPHeadParser.Kind) -> HTTPHead? {
        var parser = HTTPHeadParser(kind: kind, maxHeadBytes: 16384)
        let bytes = Array(text.utf8)
        let step = bytes.withUnsafeBytes { parser.parse($0) }
        if case .complete(let head, _) = step { return head }
        return nil
    }

    /// An exchange for `request`, its response already planned from `response`.
    static func exchange(request: String = "GET / HTTP/1.1\r\nHost: a\r\n\r\n", response: String? = nil) -> Exchange? {
        guard let req = head(request, kind: .request) else { return nil }
        var ex = Exchange(head: req, headBytes: request.utf8.count, number: 1, startUs: 0, draining: false)
        if let response {
            guard let resp = head(response, kind: .response(requestMethodIsHEAD: false)) else { return nil }
            _ = ex.planResponse(resp)
        }
        return ex
    }
}
