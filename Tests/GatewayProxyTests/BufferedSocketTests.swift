import CLibevent
import GatewayCore
import GatewayLoop
import Testing
@testable import GatewayProxy

/// The plain socket's own connect, write and send-timeout paths (it has no
/// bufferevent): what the delegate hears, and when.
@Suite struct BufferedSocketTests {
    /// Records what a socket reports; stops the loop on each event.
    final class Recorder: BufferedSocketDelegate {
        let loop: EventLoop
        var events: [String] = []
        var writable = 0
        init(loop: EventLoop) { self.loop = loop }
        func socketReadable(_ socket: BufferedSocket) { events.append("readable"); loop.stop() }
        func socketWritable(_ socket: BufferedSocket) { writable += 1 }
        func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent) {
            switch event {
            case .connected: events.append("connected")
            case .eof: events.append("eof")
            case .timeout: events.append("timeout")
            case .error(let e): events.append("error \(e)")
            }
            loop.stop()
        }
    }

    /// Runs `loop` until a callback stops it, or `ms` pass.
    static func run(_ loop: EventLoop, atMostMs ms: Int64 = 2000) {
        let guardTimer = Timer(loop: loop) { loop.stop() }
        guardTimer.schedule(afterMs: ms)
        loop.run()
        guardTimer.cancel()
    }

    static func loopback(port: UInt16) throws -> SocketAddress {
        try SocketAddress.resolve(SocketAddressSpec(host: "127.0.0.1", port: port))
    }

    static func port(of fd: Int32) -> UInt16 {
        var sin = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: sin.sin_port)
    }

    @Test func connectReportsConnectedThenSendsWhatWasQueued() throws {
        let loop = try EventLoop()
        let listener = try Socket.listen(Self.loopback(port: 0), reusePort: false)
        defer { _ = closeFD(listener) }
        let s = try #require(BufferedSocket(loop: loop, fd: -1))
        defer { s.free() }
        let r = Recorder(loop: loop)
        s.delegate = r
        s.write(Array("queued before the connect".utf8))
        s.flush()   // nothing to write to yet: the connect's write event sends it
        #expect(s.connect(to: try Self.loopback(port: Self.port(of: listener))))
        #expect(r.events.isEmpty)
        Self.run(loop)
        #expect(r.events == ["connected"])
        Self.run(loop, atMostMs: 100)
        #expect(s.outputLength == 0)
        let peer = accept(listener, nil, nil)
        #expect(peer >= 0)
        defer { _ = closeFD(peer) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = recv(peer, &buf, buf.count, 0)
        #expect(String(decoding: buf[0..<max(0, n)], as: UTF8.self) == "queued before the connect")
    }

    @Test func refusedConnectIsReportedFromTheLoopNotAtOnce() throws {
        let loop = try EventLoop()
        let probe = try Socket.listen(Self.loopback(port: 0), reusePort: false)
        let port = Self.port(of: probe)
        _ = closeFD(probe)   // nothing listens there now
        let s = try #require(BufferedSocket(loop: loop, fd: -1))
        defer { s.free() }
        let r = Recorder(loop: loop)
        s.delegate = r
        #expect(s.connect(to: try Self.loopback(port: port)))
        #expect(r.events.isEmpty)   // callers see one path for every outcome
        Self.run(loop)
        #expect(r.events == ["error \(ECONNREFUSED)"])
        s.write(Array("x".utf8))
        s.flush()   // a failed socket sends nothing and reports nothing more
        Self.run(loop, atMostMs: 100)
        #expect(r.events.count == 1)
    }

    @Test func outputTheKernelRefusedIsSentWhenThePeerReads() throws {
        let loop = try EventLoop()
        let end = try SocketPairEnd(loop: loop)
        let r = Recorder(loop: loop)
        end.socket.delegate = r
        let total = 2 << 20
        let bytes = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 12)) }
        end.socket.write(bytes)
        end.socket.flush()
        #expect(end.socket.outputLength > 0)   // more than a socket buffer holds
        var got: [UInt8] = []
        got.reserveCapacity(total)
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var idleRounds = 0   // the loop ran and nothing came: give up after a second
        while got.count < total, idleRounds < 50 {
            let n = recv(end.farFD, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n > 0 { got += buf[0..<n]; idleRounds = 0 } else { Self.run(loop, atMostMs: 20); idleRounds += 1 }
        }
        #expect(got == bytes)
        #expect(end.socket.outputLength == 0)
        #expect(r.writable >= 1)   // told once the output drained
        #expect(r.events.isEmpty)
    }

    @Test func sendTimeoutFiresOnlyWhileOutputWaits() throws {
        let loop = try EventLoop()
        let end = try SocketPairEnd(loop: loop)
        let r = Recorder(loop: loop)
        end.socket.delegate = r
        end.socket.setSendTimeout(ms: 50)
        Self.run(loop, atMostMs: 150)   // idle: no output, no clock
        #expect(r.events.isEmpty)
        end.socket.write([UInt8](repeating: 0x61, count: 2 << 20))
        end.socket.flush()
        Self.run(loop)   // the far end never reads
        #expect(r.events == ["timeout"])
    }
}
