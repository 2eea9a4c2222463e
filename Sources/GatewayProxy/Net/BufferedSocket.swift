import CLibevent
import CLibeventTLS
import GatewayCore
import GatewayLoop

/// What a `BufferedSocket` reports. Called on the socket's loop thread.
protocol BufferedSocketDelegate: AnyObject {
    func socketReadable(_ socket: BufferedSocket)
    /// Output drained to the low watermark (0 unless set otherwise).
    func socketWritable(_ socket: BufferedSocket)
    /// Connected, EOF, error or timeout.
    func socketEvent(_ socket: BufferedSocket, _ event: SocketEvent)
}

enum SocketEvent {
    case connected
    case eof
    case error(Int32)
    case timeout
}

/// Owns one libevent bufferevent over a TCP socket (closed with it).
/// Only the owning loop's thread may touch it.
///
/// Plain sockets do their own I/O where libevent's costs showed in profiles,
/// and keep the bufferevent for its buffers and for writing what the kernel
/// would not take at once:
/// - reads: one readv of up to 64 KiB into the input buffer per readiness
///   event, where `evbuffer_read` adds an ioctl(FIONREAD) and caps each read
///   at 4 KiB (a 16 KiB body took five callbacks);
/// - writes: straight to the socket (`flush`), arming EV_WRITE only on
///   EAGAIN, where a bufferevent waits for EPOLLOUT before every write (two
///   epoll_ctl calls and a loop wake-up per response).
/// TLS sockets leave both to bufferevent_openssl.
final class BufferedSocket {
    // @exclusivity(unchecked): see ClientConnection; plain flags and a
    // pointer, touched only on this socket's loop, never across a call.
    @exclusivity(unchecked) private(set) var bev: OpaquePointer?
    /// Not weak: the delegate owns this socket, and `free()` (called by the
    /// owner's close, or by deinit when the owner goes away) unhooks the
    /// callbacks first, so no callback can reach a dead delegate. The
    /// callback trampolines hold a strong local for the call. A weak load on
    /// every callback showed in profiles.
    unowned(unsafe) var delegate: (any BufferedSocketDelegate)?

    enum Transport {
        case plain
        /// Server side of TLS on an accepted fd.
        case tlsServer(TLSContext)
        /// Client side of TLS, checking the certificate against `host`.
        case tlsClient(TLSContext, host: String)
    }

    private let plain: Bool
    private let loop: EventLoop
    // Plain sockets: our read event and what decides whether it is armed.
    @exclusivity(unchecked) private var readEvent: OpaquePointer?
    @exclusivity(unchecked) private var readEventAdded = false
    @exclusivity(unchecked) private var wantRead = false
    @exclusivity(unchecked) private var readSuspended = false  // input at the high-water mark
    @exclusivity(unchecked) private var connecting = false
    @exclusivity(unchecked) private var readClosed = false     // EOF or error seen
    @exclusivity(unchecked) private var readHighWater = 0
    @exclusivity(unchecked) private var writeArmed = false
    /// The descriptor, read from the bufferevent once (at creation, after a
    /// connect made it) rather than through bufferevent_getfd on every I/O.
    @exclusivity(unchecked) private var socketFD: Int32 = -1
    static let maxSingleRead = 64 << 10

    /// Wraps an accepted fd, or creates an unconnected socket when fd is -1.
    init?(loop: EventLoop, fd: Int32, transport: Transport = .plain) {
        self.loop = loop
        if case .plain = transport { plain = true } else { plain = false }
        let made: OpaquePointer?
        switch transport {
        case .plain:
            made = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
            if made == nil, fd >= 0 { close(fd) }
        case .tlsServer(let ctx):
            made = gw_bufferevent_tls_accept(loop.base, fd, ctx.raw)
        case .tlsClient(let ctx, let host):
            made = gw_bufferevent_tls_client(loop.base, ctx.raw, host)
        }
        guard let b = made else { return nil }
        bev = b
        socketFD = bufferevent_getfd(b)
        let readCB: bufferevent_data_cb = { _, arg in
            guard let arg else { return }
            let s = Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue()
            // A strong local keeps the delegate alive while it runs, even
            // if it closes itself and drops its last other reference.
            guard let d = s.delegate else { return }
            d.socketReadable(s)
        }
        let writeCB: bufferevent_data_cb = { _, arg in
            guard let arg else { return }
            let s = Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue()
            s.disarmWriteIfDrained()
            guard let d = s.delegate else { return }
            d.socketWritable(s)
        }
        let eventCB: bufferevent_event_cb = { _, what, arg in
            guard let arg else { return }
            let s = Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue()
            let w = Int32(what)
            let ev: SocketEvent
            if w & Int32(BEV_EVENT_CONNECTED) != 0 {
                ev = .connected
            } else if w & Int32(BEV_EVENT_TIMEOUT) != 0 {
                ev = .timeout
            } else if w & Int32(BEV_EVENT_EOF) != 0 {
                ev = .eof
            } else {
                ev = .error(gw_errno())
            }
            s.connecting = false
            s.updateReadEvent()
            guard let d = s.delegate else { return }
            d.socketEvent(s, ev)
        }
        bufferevent_setcb(b, plain ? nil : readCB, writeCB, eventCB, Unmanaged.passUnretained(self).toOpaque())
        if plain, fd >= 0 {
            bufferevent_disable(b, Int16(EV_WRITE))
            makeReadEvent(fd: fd)
        }
    }

    deinit { free() }

    /// Closes the socket and releases the bufferevent; pending output is dropped.
    func free() {
        if let readEvent {
            event_free(readEvent)
            self.readEvent = nil
            readEventAdded = false
        }
        if let b = bev {
            bufferevent_setcb(b, nil, nil, nil, nil)
            bufferevent_free(b)
            bev = nil
        }
        socketFD = -1
    }

    var isOpen: Bool { bev != nil }

    var fd: Int32 { socketFD }

    var input: OpaquePointer? { bev.flatMap { bufferevent_get_input($0) } }
    var output: OpaquePointer? { bev.flatMap { bufferevent_get_output($0) } }

    var inputLength: Int { input.map { evbuffer_get_length($0) } ?? 0 }
    var outputLength: Int { output.map { evbuffer_get_length($0) } ?? 0 }

    /// Starts a non-blocking connect; `.connected` or an error event follows.
    /// bufferevent watches for writability to see the connect finish, and
    /// writes what was queued meanwhile; direct writes and our reads start
    /// after that.
    func connect(to address: SocketAddress) -> Bool {
        guard let bev else { return false }
        writeArmed = true
        connecting = true
        let rc = address.withSockaddr { sa, len in
            bufferevent_socket_connect(bev, UnsafeMutablePointer(mutating: sa), Int32(len))
        }
        socketFD = bufferevent_getfd(bev)
        guard rc == 0 else { connecting = false; return false }
        if plain { makeReadEvent(fd: socketFD) }
        return true
    }

    // MARK: Reading

    func enableRead() {
        guard let bev else { return }
        if plain { wantRead = true; updateReadEvent() } else { bufferevent_enable(bev, Int16(EV_READ)) }
    }

    func disableRead() {
        guard let bev else { return }
        if plain { wantRead = false; updateReadEvent() } else { bufferevent_disable(bev, Int16(EV_READ)) }
    }

    var isReading: Bool {
        guard let bev else { return false }
        if plain { return wantRead }
        return Int32(bufferevent_get_enabled(bev)) & Int32(EV_READ) != 0
    }

    /// Stop reading from the socket when this many bytes wait unprocessed.
    func setReadHighWatermark(_ high: Int) {
        readHighWater = high
        if !plain, let bev { bufferevent_setwatermark(bev, Int16(EV_READ), 0, high) }
    }

    private func makeReadEvent(fd: Int32) {
        guard readEvent == nil, fd >= 0 else { return }
        let cb: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue().readFromSocket()
        }
        readEvent = gw_evread_new(loop.base, fd, cb, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Arms our read event exactly when reading is wanted and possible.
    private func updateReadEvent() {
        guard plain, let readEvent else { return }
        let should = wantRead && !readSuspended && !connecting && !readClosed
        if should, !readEventAdded {
            event_add(readEvent, nil)
            readEventAdded = true
        } else if !should, readEventAdded {
            event_del(readEvent)
            readEventAdded = false
        }
    }

    /// After input shrank: resume reading if the high-water mark stopped it.
    private func inputShrank() {
        if readSuspended, inputLength < readHighWater {
            readSuspended = false
            updateReadEvent()
        }
    }

    /// Plain sockets: one readv into reserved input space, then tell the
    /// delegate (data, EOF or error).
    private func readFromSocket() {
        guard let bev, let input = bufferevent_get_input(bev) else { return }
        let have = evbuffer_get_length(input)
        let limit = readHighWater > 0 ? readHighWater : Int.max
        guard have < limit else {
            readSuspended = true
            updateReadEvent()
            return
        }
        let want = min(Self.maxSingleRead, limit - have)
        let fd = socketFD
        // bufferevent keeps its input frozen at the end except while it
        // reads itself; do as it does around our own read.
        evbuffer_unfreeze(input, 0)
        var vecs = (iovec(), iovec())
        let (got, err): (Int, Int32) = withUnsafeMutableBytes(of: &vecs) { raw in
            let v = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
            let n = evbuffer_reserve_space(input, want, v, 2)
            guard n > 0 else { return (-1, ENOMEM) }
            let r = readv(fd, v, n)
            let e = r < 0 ? gw_errno() : 0
            guard r > 0 else {
                evbuffer_commit_space(input, v, 0)
                return (r, e)
            }
            var left = r  // trim the vectors to what arrived, then commit
            for i in 0..<Int(n) {
                v[i].iov_len = min(v[i].iov_len, left)
                left -= v[i].iov_len
            }
            evbuffer_commit_space(input, v, n)
            return (r, 0)
        }
        evbuffer_freeze(input, 0)
        if got > 0 {
            guard let d = delegate else { return }
            d.socketReadable(self)
            inputShrank()
            return
        }
        if got < 0, err == EAGAIN || err == EWOULDBLOCK || err == EINTR { return }
        readClosed = true
        updateReadEvent()
        guard let d = delegate else { return }
        d.socketEvent(self, got == 0 ? .eof : .error(err))
    }

    // MARK: Writing

    /// Sends queued output now, as far as the kernel takes it; what is left
    /// (EAGAIN, or an error for bufferevent to report) is handed to the
    /// bufferevent by arming EV_WRITE until the output has drained. Call at
    /// the end of each piece of work that wrote to this socket.
    func flush() {
        guard plain, !writeArmed, let bev, let out = bufferevent_get_output(bev) else { return }
        let fd = socketFD
        guard fd >= 0 else { return }
        // bufferevent keeps its output frozen at the front except while it
        // writes itself; do as it does around our own write.
        evbuffer_unfreeze(out, 1)
        while evbuffer_get_length(out) > 0 {
            if evbuffer_write(out, fd) <= 0 { break }
        }
        evbuffer_freeze(out, 1)
        if evbuffer_get_length(out) > 0 {
            writeArmed = true
            bufferevent_enable(bev, Int16(EV_WRITE))
        }
    }

    private func disarmWriteIfDrained() {
        guard plain, writeArmed, let bev, outputLength == 0 else { return }
        writeArmed = false
        bufferevent_disable(bev, Int16(EV_WRITE))
    }

    /// Write callback fires when output drops to `low` bytes.
    func setWriteLowWatermark(_ low: Int) {
        if let bev { bufferevent_setwatermark(bev, Int16(EV_WRITE), low, 0) }
    }

    func write(_ bytes: [UInt8]) {
        guard let out = output, !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { _ = evbuffer_add(out, $0.baseAddress, $0.count) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        guard let out = output, bytes.count > 0 else { return }
        _ = evbuffer_add(out, bytes.baseAddress, bytes.count)
    }

    func write(_ text: StaticString) {
        guard let out = output else { return }
        _ = evbuffer_add(out, text.utf8Start, text.utf8CodeUnitCount)
    }

    /// Lets `fill` write up to `bound` bytes straight into the output
    /// buffer, one reserved contiguous extent (no copy through an array);
    /// `fill` returns how many it wrote, or nil to write nothing. Returns
    /// whether anything was kept.
    @inline(__always)  // two callers a request: no closure context to build
    func writeInPlace(bound: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int?) -> Bool {
        guard let out = output, bound > 0 else { return false }
        var vec = iovec()
        guard evbuffer_reserve_space(out, bound, &vec, 1) == 1, vec.iov_len >= bound, let base = vec.iov_base
        else { return false }
        let n = fill(UnsafeMutableRawBufferPointer(start: base, count: bound))
        vec.iov_len = n ?? 0
        _ = evbuffer_commit_space(out, &vec, n == nil ? 0 : 1)
        return n != nil
    }

    /// Writes a head with `write` (a `HeadWriter` call) in place: in a
    /// window of `bound` bytes, or of four times that when it did not fit,
    /// or else through a byte array. Returns the head's length.
    @inline(__always)  // the caller's options are not copied into a closure context
    func writeHead(bound: Int, _ write: (inout HeadCursor) -> Void) -> Int {
        var size = max(bound, 64)
        for _ in 0..<2 {
            var length = 0
            let kept = writeInPlace(bound: size) { raw in
                var cursor = HeadCursor(raw)
                write(&cursor)
                length = cursor.count
                return cursor.overflowed ? nil : cursor.count
            }
            if kept { return length }
            size *= 4
        }
        var bytes: [UInt8] = []
        HeadCursor.append(to: &bytes, bound: size, write)
        self.write(bytes)
        return bytes.count
    }

    /// Writes a chunk-size line ("1a2b\r\n") for re-framing, from a stack
    /// buffer: one per chunk, so no heap allocation.
    func writeChunkHeader(_ size: Int) {
        guard let out = output else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 18) { buf in
            var v = UInt64(max(0, size))
            var digits = 0
            repeat { digits += 1; v >>= 4 } while v != 0
            v = UInt64(max(0, size))
            for i in stride(from: digits - 1, through: 0, by: -1) {
                let d = UInt8(v & 0xF)
                buf[i] = d < 10 ? 0x30 + d : 0x61 + d - 10
                v >>= 4
            }
            buf[digits] = 0x0D
            buf[digits + 1] = 0x0A
            _ = evbuffer_add(out, buf.baseAddress, digits + 2)
        }
    }

    // MARK: Timeouts and reuse

    /// Reports `.timeout` when output has waited `ms` with the kernel taking
    /// none of it (nginx `send_timeout`); 0 turns it off. The clock only
    /// runs while output waits: plain sockets arm EV_WRITE only then (see
    /// `flush`), and bufferevent_openssl adds its write event when output
    /// arrives and deletes it once drained. Every write the kernel accepts
    /// restarts it (the event is persistent).
    func setSendTimeout(ms: Int64) {
        guard let bev else { return }
        var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: Int(ms % 1000) * 1000)
        if ms > 0 { _ = bufferevent_set_timeouts(bev, nil, &tv) } else { _ = bufferevent_set_timeouts(bev, nil, nil) }
    }

    /// True when an idle keep-alive connection may carry another request:
    /// nothing buffered, and the kernel holds neither a stray byte (a body
    /// after a HEAD or 204 that a confused server sent late) nor an EOF.
    /// One non-blocking peek: the idle read event would notice the same
    /// later in this loop iteration, but possibly after the reuse. TLS
    /// sockets can carry post-handshake records (session tickets) that are
    /// no data, so for them only EOF counts.
    func isQuietForReuse() -> Bool {
        guard bev != nil, inputLength == 0, !readClosed else { return false }
        let fd = self.fd
        guard fd >= 0 else { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n > 0 { return !plain }
        if n == 0 { return false }
        let e = gw_errno()
        return e == EAGAIN || e == EWOULDBLOCK || e == EINTR
    }

    // MARK: Moving input

    /// Moves up to `count` bytes from this socket's input to `other`'s output
    /// without copying (evbuffer chains change owner). Returns bytes moved.
    @discardableResult
    func moveInput(to other: BufferedSocket, count: Int) -> Int {
        guard let src = input, let dst = other.output, count > 0 else { return 0 }
        let n = evbuffer_remove_buffer(src, dst, count)
        inputShrank()
        return Int(max(n, 0))
    }

    /// Moves everything readable to `other`'s output.
    @discardableResult
    func moveAllInput(to other: BufferedSocket) -> Int {
        guard let src = input, let dst = other.output else { return 0 }
        let n = evbuffer_get_length(src)
        if n == 0 { return 0 }
        _ = evbuffer_add_buffer(dst, src)
        inputShrank()
        return n
    }

    func drainInput(_ count: Int) {
        if let src = input, count > 0 {
            evbuffer_drain(src, count)
            inputShrank()
        }
    }

    /// Moves up to `count` bytes of input (across evbuffer chunks) onto the
    /// end of `out`: for bodies the gateway reads whole itself (admin API,
    /// session endpoints), bounded by the caller. Returns how many.
    func takeInput(upTo count: Int, appendingTo out: inout [UInt8]) -> Int {
        guard let src = input, count > 0 else { return 0 }
        let n = min(count, evbuffer_get_length(src))
        if n == 0 { return 0 }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: n))
        let removed = out.withUnsafeMutableBytes { raw in
            Int(evbuffer_remove(src, raw.baseAddress.map { $0 + start }, n))
        }
        if removed < n { out.removeLast(n - max(0, removed)) }
        inputShrank()
        return max(0, removed)
    }

    /// Calls `body` with the first contiguous run of input bytes; an empty
    /// buffer when nothing is there.
    func withFirstInputChunk<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let src = input else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        var vec = iovec()
        let n = evbuffer_peek(src, -1, nil, &vec, 1)
        if n < 1 || vec.iov_len == 0 { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: vec.iov_base, count: vec.iov_len))
    }
}
