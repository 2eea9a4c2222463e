import Glibc
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

/// One TCP socket and its two libevent buffers (the socket is closed with
/// it). Only the owning loop's thread may touch it.
///
/// Plain sockets are an fd, two evbuffers and two events of our own, with
/// no bufferevent: a bufferevent's buffer callbacks, freezes and watermark
/// bookkeeping ran on every buffer change, about 860 instructions a proxied
/// request in the profile. What the socket does itself:
/// - reads: one readv of up to 64 KiB into the input buffer per readiness
///   event (`evbuffer_read` adds an ioctl(FIONREAD) and caps each read at
///   4 KiB: a 16 KiB body took five callbacks);
/// - writes: straight to the socket (`flush`), arming the write event only
///   on EAGAIN or while a connect is under way, as bufferevent_socket does;
/// - the send timeout rides on the write event, so its clock runs only
///   while output waits.
/// TLS sockets are bufferevent_openssl's, which does all of that itself.
final class BufferedSocket {
    /// TLS sockets only (nil for plain ones, and once freed).
    // @exclusivity(unchecked): see ClientConnection; plain flags and
    // pointers, touched only on this socket's loop, never across a call.
    @exclusivity(unchecked) private(set) var bev: OpaquePointer?
    /// The two buffers: nil once freed. Plain sockets own them; TLS sockets
    /// hold their bufferevent's (stable for its life).
    @exclusivity(unchecked) private(set) var input: OpaquePointer?
    @exclusivity(unchecked) private(set) var output: OpaquePointer?
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
    // Plain sockets: our read and write events and what decides whether
    // each is armed.
    @exclusivity(unchecked) private var readEvent: OpaquePointer?
    @exclusivity(unchecked) private var writeEvent: OpaquePointer?
    @exclusivity(unchecked) private var readEventAdded = false
    @exclusivity(unchecked) private var wantRead = false
    @exclusivity(unchecked) private var readSuspended = false  // input at the high-water mark
    @exclusivity(unchecked) private var connecting = false
    /// A connect refused at once: reported from the write event, as a
    /// refusal seen later would be (callers retry on that event).
    @exclusivity(unchecked) private var refusedAtConnect = false
    @exclusivity(unchecked) private var readClosed = false     // EOF or error seen
    @exclusivity(unchecked) private var readHighWater = 0
    /// The write event is added: a connect or queued output is waiting for
    /// the socket to become writable; `flush` leaves the writing to it.
    @exclusivity(unchecked) private var writeArmed = false
    /// A write failed or timed out (reported once): nothing more is sent.
    @exclusivity(unchecked) private var writeClosed = false
    @exclusivity(unchecked) private var writeLowWater = 0
    @exclusivity(unchecked) private var sendTimeoutMs: Int64 = 0
    /// The descriptor: -1 until a connect made one, and once freed.
    @exclusivity(unchecked) private var socketFD: Int32 = -1
    static let maxSingleRead = 64 << 10

    /// Wraps an accepted (non-blocking) fd, or an unconnected socket when fd
    /// is -1 (`connect` makes the descriptor).
    init?(loop: EventLoop, fd: Int32, transport: Transport = .plain) {
        self.loop = loop
        let made: OpaquePointer?
        switch transport {
        case .plain:
            plain = true
            guard let i = evbuffer_new() else { if fd >= 0 { close(fd) }; return nil }
            guard let o = evbuffer_new() else { evbuffer_free(i); if fd >= 0 { close(fd) }; return nil }
            input = i
            output = o
            socketFD = fd
            if fd >= 0 { makeEvents(fd: fd) }
            return
        case .tlsServer(let ctx):
            plain = false
            made = gw_bufferevent_tls_accept(loop.base, fd, ctx.raw)
        case .tlsClient(let ctx, let host):
            plain = false
            made = gw_bufferevent_tls_client(loop.base, ctx.raw, host)
        }
        guard let b = made else { return nil }
        bev = b
        input = bufferevent_get_input(b)
        output = bufferevent_get_output(b)
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
            guard let d = s.delegate else { return }
            d.socketEvent(s, ev)
        }
        bufferevent_setcb(b, readCB, writeCB, eventCB, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { free() }

    /// Closes the socket and releases its buffers; pending output is dropped.
    func free() {
        if let readEvent {
            event_free(readEvent)
            self.readEvent = nil
            readEventAdded = false
        }
        if let writeEvent {
            event_free(writeEvent)
            self.writeEvent = nil
        }
        writeArmed = false
        if let b = bev {
            bufferevent_setcb(b, nil, nil, nil, nil)
            bufferevent_free(b)   // closes the fd
            bev = nil
        } else if plain {
            if let input { evbuffer_free(input) }
            if let output { evbuffer_free(output) }
            if socketFD >= 0 { close(socketFD) }
        }
        input = nil
        output = nil
        socketFD = -1
    }

    var isOpen: Bool { input != nil }

    var fd: Int32 { socketFD }

    var inputLength: Int { input.map { evbuffer_get_length($0) } ?? 0 }
    var outputLength: Int { output.map { evbuffer_get_length($0) } ?? 0 }

    /// Starts a non-blocking connect; `.connected` or an error event follows
    /// (a refusal seen at once too, from the loop). Output queued meanwhile
    /// is written once connected; our reads start then too.
    func connect(to address: SocketAddress) -> Bool {
        guard input != nil else { return false }
        if let bev {   // TLS: bufferevent_openssl connects, then shakes hands
            let rc = address.withSockaddr { sa, len in
                bufferevent_socket_connect(bev, UnsafeMutablePointer(mutating: sa), Int32(len))
            }
            socketFD = bufferevent_getfd(bev)
            return rc == 0
        }
        guard socketFD < 0 else { return false }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                        | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        let rc = address.withSockaddr { sa, len in Glibc.connect(fd, sa, socklen_t(len)) }
        if rc != 0 {
            let e = gw_errno()
            if e == ECONNREFUSED {
                refusedAtConnect = true
            } else if e != EINPROGRESS && e != EINTR {
                close(fd)   // errno stays the connect's for the caller
                return false
            }
        }
        socketFD = fd
        makeEvents(fd: fd)
        guard let writeEvent else {   // no memory for the events
            close(fd)
            socketFD = -1
            return false
        }
        connecting = true
        armWrite()
        // Connected or refused already: the write event reports it from the
        // loop, so callers see one path for every outcome.
        if rc == 0 || refusedAtConnect { event_active(writeEvent, Int32(EV_WRITE), 1) }
        return true
    }

    // MARK: Reading

    func enableRead() {
        if plain { wantRead = true; updateReadEvent() } else if let bev { bufferevent_enable(bev, Int16(EV_READ)) }
    }

    func disableRead() {
        if plain { wantRead = false; updateReadEvent() } else if let bev { bufferevent_disable(bev, Int16(EV_READ)) }
    }

    var isReading: Bool {
        if plain { return input != nil && wantRead }
        guard let bev else { return false }
        return Int32(bufferevent_get_enabled(bev)) & Int32(EV_READ) != 0
    }

    /// Stop reading from the socket when this many bytes wait unprocessed.
    func setReadHighWatermark(_ high: Int) {
        readHighWater = high
        if !plain, let bev { bufferevent_setwatermark(bev, Int16(EV_READ), 0, high) }
    }

    private func makeEvents(fd: Int32) {
        guard readEvent == nil, fd >= 0 else { return }
        let readCB: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue().readFromSocket()
        }
        let writeCB: event_callback_fn = { _, what, arg in
            guard let arg else { return }
            Unmanaged<BufferedSocket>.fromOpaque(arg).takeUnretainedValue().writeReady(what)
        }
        readEvent = gw_evread_new(loop.base, fd, readCB, Unmanaged.passUnretained(self).toOpaque())
        writeEvent = gw_evwrite_new(loop.base, fd, writeCB, Unmanaged.passUnretained(self).toOpaque())
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
        guard let input else { return }
        let have = evbuffer_get_length(input)
        let limit = readHighWater > 0 ? readHighWater : Int.max
        guard have < limit else {
            readSuspended = true
            updateReadEvent()
            return
        }
        let want = min(Self.maxSingleRead, limit - have)
        let fd = socketFD
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
        if got > 0 {
            guard let d = delegate else { return }
            d.socketReadable(self)
            inputShrank()
            return
        }
        if got < 0, err == EAGAIN || err == EWOULDBLOCK || err == EINTR { return }
        readClosed = true
        updateReadEvent()
        report(got == 0 ? .eof : .error(err))
    }

    // MARK: Writing

    /// Sends queued output now, as far as the kernel takes it; what is left
    /// (EAGAIN) is written by the write event once the socket can take more.
    /// Call at the end of each piece of work that wrote to this socket.
    func flush() {
        guard plain, !writeArmed, !writeClosed, let out = output else { return }
        let fd = socketFD
        guard fd >= 0 else { return }
        while evbuffer_get_length(out) > 0 {
            if evbuffer_write(out, fd) <= 0 { break }
        }
        // An error is the write event's to report, on its first try.
        if evbuffer_get_length(out) > 0 { armWrite() }
    }

    private func armWrite() {
        guard let writeEvent, !writeArmed, !writeClosed else { return }
        writeArmed = true
        _ = gw_event_add_ms(writeEvent, sendTimeoutMs > 0 && !connecting ? Int(sendTimeoutMs) : -1)
    }

    private func disarmWrite() {
        guard let writeEvent, writeArmed else { return }
        writeArmed = false
        event_del(writeEvent)
    }

    /// The write event: a connect finished, the socket takes more output, or
    /// the send timeout ran out. As bufferevent_socket's: the delegate hears
    /// `.connected` first, then `socketWritable` once output is at or under
    /// the low watermark after a write; errors and the timeout end writing.
    private func writeReady(_ what: Int16) {
        guard output != nil else { return }
        if Int32(what) & Int32(EV_WRITE) == 0 {   // the send timeout (only armed when connected)
            disarmWrite()
            writeClosed = true
            report(.timeout)
            return
        }
        let justConnected = connecting
        if connecting {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            if refusedAtConnect {
                err = ECONNREFUSED
            } else if getsockopt(socketFD, SOL_SOCKET, SO_ERROR, &err, &len) != 0 {
                err = gw_errno()
            }
            if err == EINPROGRESS || err == EINTR { return }   // not done yet
            connecting = false
            refusedAtConnect = false
            if err != 0 {
                disarmWrite()
                writeClosed = true
                readClosed = true
                updateReadEvent()
                report(.error(err))
                return
            }
            updateReadEvent()
            report(.connected)
            guard output != nil else { return }   // closed in the callback
            if sendTimeoutMs > 0, writeArmed {   // the timeout starts now
                disarmWrite()
                armWrite()
            }
        }
        guard let out = output else { return }
        var wrote = false
        while evbuffer_get_length(out) > 0 {
            let n = evbuffer_write(out, socketFD)
            if n > 0 { wrote = true; continue }
            let e = gw_errno()
            if n < 0, e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
            disarmWrite()
            writeClosed = true
            report(n == 0 ? .eof : .error(e))
            return
        }
        disarmWrite()
        // (bufferevent_socket's rule: not after a connect that wrote nothing)
        if evbuffer_get_length(out) <= writeLowWater, wrote || !justConnected {
            guard let d = delegate else { return }
            d.socketWritable(self)
        }
    }

    private func report(_ event: SocketEvent) {
        guard let d = delegate else { return }
        d.socketEvent(self, event)
    }

    /// Write callback fires when output drops to `low` bytes.
    func setWriteLowWatermark(_ low: Int) {
        if plain { writeLowWater = low } else if let bev { bufferevent_setwatermark(bev, Int16(EV_WRITE), low, 0) }
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
        if plain {
            sendTimeoutMs = max(0, ms)
            if writeArmed, !connecting { disarmWrite(); armWrite() }
            return
        }
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
        guard input != nil, inputLength == 0, !readClosed else { return false }
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
