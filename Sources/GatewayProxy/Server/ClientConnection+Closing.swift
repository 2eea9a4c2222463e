import CLibevent
import GatewayCore

/// How a client connection ends: the client-side timeouts (head, upload,
/// tunnel idle, linger), the lingering close after a final answer, the
/// close itself, and drain. Loop thread only.
extension ClientConnection {
    func clientTimedOut() {
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
            if !ex.bodyIsDone {
                worker.metrics.countTimeout(.requestBody)
                abort(status: 408)
            }
        case .tunnelling:
            switch Deadline.check(lastActivityMs: ex.lastTunnelActivityMs, nowMs: loop.nowMs(),
                                  limitMs: runtime.config.server.tunnelIdleTimeoutMs) {
            case .rearm(let ms):
                clientTimer.schedule(afterMs: ms)
            case .expired:
                worker.metrics.countTimeout(.tunnelIdle)
                close()
            }
        case .closing:
            close()  // linger over, or the client stopped reading our answer
        default:
            break
        }
    }

    /// Lingering close, as nginx and HAProxy do: write the answer, half-close,
    /// and keep reading (and discarding) for a moment. Closing with unread
    /// input makes the kernel send RST, which can destroy the answer before
    /// the client has read it (a 400 or 413 the client never sees).
    func closeAfterFlush() {
        state = .closing
        clientTimer.cancel()
        socket.enableRead()
        socket.setWriteLowWatermark(0)
        // Do not wait forever on a client that neither reads nor closes.
        clientTimer.schedule(afterMs: min(runtime.config.server.clientTimeoutMs, Self.lingerMs))
        socket.flush()
        if socket.outputLength == 0 { halfClose() }
    }

    static let lingerMs: Int64 = 2_000

    func halfClose() {
        guard !halfClosed else { return }
        halfClosed = true
        _ = CLibevent.shutdown(socket.fd, Int32(SHUT_WR))
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        clientTimer.free()
        upstreamTimer.free()
        upstream?.close()
        upstream = nil
        socket.free()
        worker.connectionClosed(self)
    }

    /// Drain: an idle keep-alive connection is closed now; a busy one closes
    /// after its current exchange.
    func beginDrain() {
        if state == .readingHead, headBytesSeen == 0 { close() } else { ex.closeAfterThis() }
    }

    var isIdle: Bool { state == .readingHead && headBytesSeen == 0 }

    func shutdownWrite(_ s: BufferedSocket) {
        _ = CLibevent.shutdown(s.fd, Int32(SHUT_WR))
    }
}
