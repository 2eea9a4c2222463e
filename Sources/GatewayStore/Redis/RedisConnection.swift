import CHiredis
import GatewayLoop

/// One hiredis async connection on the store's event loop: the only owner of
/// its `redisAsyncContext`, and the only code besides the reply conversion that
/// sees hiredis pointers. Store thread only.
///
/// Every `send` handler runs exactly once: with the reply, or with nil when the
/// connection is closed or lost before Redis answered (hiredis runs pending
/// callbacks with a NULL reply when it frees the context).
final class RedisConnection {
    let name: String
    private let loop: EventLoop
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    /// True once the TCP connection is established.
    private(set) var isConnected = false

    /// The TCP connect finished: nil on success, else why it failed. Once.
    var onConnect: ((String?) -> Void)?
    /// An established connection was lost (not closed by us). Once.
    var onLost: ((String) -> Void)?
    /// Each pub/sub message (and subscribe confirmation) after `subscribe`.
    var onMessage: ((RedisReply) -> Void)?

    /// Send times (ms) of the commands not answered yet, oldest first:
    /// replies come back in order, so the head is the one a stuck server
    /// would be holding.
    private var pendingSince: [Int64] = []
    private var pendingHead = 0

    init(name: String, loop: EventLoop) {
        self.name = name
        self.loop = loop
    }

    deinit {
        // Close first: hiredis calls back into this object while freeing.
        if let context {
            context.pointee.data = nil
            redisAsyncFree(context)
        }
    }

    var isOpen: Bool { context != nil }
    var pendingCount: Int { pendingSince.count - pendingHead }
    /// How long the oldest unanswered command has waited, in ms (0: none).
    func oldestPendingAge(nowMs: Int64) -> Int64 {
        pendingHead < pendingSince.count ? nowMs - pendingSince[pendingHead] : 0
    }

    /// Starts a non-blocking connect to a numeric address. False (with why)
    /// when it failed at once; otherwise `onConnect` reports the outcome.
    func connect(address: String, port: Int32) -> String? {
        precondition(context == nil, "connect on an open RedisConnection")
        guard let ac = redisAsyncConnect(address, port) else { return "out of memory" }
        if ac.pointee.err != 0 {
            let why = ac.pointee.errstr.map { String(cString: $0) } ?? "connect failed"
            redisAsyncFree(ac)
            return why
        }
        ac.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        guard gw_redis_attach(ac, UnsafeMutableRawPointer(loop.base)) == gw_redis_ok() else {
            redisAsyncFree(ac)
            return "cannot attach to the event loop"
        }
        _ = gw_redis_keepalive(ac)
        redisAsyncSetConnectCallback(ac, connectTrampoline)
        redisAsyncSetDisconnectCallback(ac, disconnectTrampoline)
        context = ac
        return nil
    }

    /// Closes at once: unanswered commands complete with nil. No `onLost`.
    func close() {
        guard let ac = context else { return }
        context = nil
        isConnected = false
        pendingSince.removeAll()
        pendingHead = 0
        // Freed now, or by hiredis right after the callback we may be inside,
        // when this object may be gone: its callbacks must not find it.
        ac.pointee.data = nil
        redisAsyncFree(ac)
    }

    /// Queues one command; hiredis writes it when the socket is ready.
    func send(_ command: RESPCommand, _ handler: @escaping (RedisReply?) -> Void) {
        guard let ac = context else { handler(nil); return }
        let box = Unmanaged.passRetained(ReplyHandler(handler)).toOpaque()
        if gw_redis_send(ac, replyTrampoline, box, command.bytes, command.length) != gw_redis_ok() {
            Unmanaged<ReplyHandler>.fromOpaque(box).release()
            handler(nil)
            return
        }
        pendingSince.append(loop.nowMs())
    }

    /// SUBSCRIBE: every message on `channel` goes to `onMessage`.
    func subscribe(_ channel: [UInt8]) -> Bool {
        guard let ac = context else { return false }
        let cmd = RESPCommand([Array("SUBSCRIBE".utf8), channel])
        let me = Unmanaged.passUnretained(self).toOpaque()
        return gw_redis_send(ac, messageTrampoline, me, cmd.bytes, cmd.length) == gw_redis_ok()
    }

    fileprivate func answered() {
        guard pendingHead < pendingSince.count else { return }
        pendingHead += 1
        if pendingHead == pendingSince.count {
            pendingSince.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead > 1024 {
            pendingSince.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    fileprivate func connected(_ ok: Bool, _ why: String) {
        if ok {
            isConnected = true
        } else {
            // hiredis frees it after this callback, running the queued
            // commands' callbacks first, when this object may be gone.
            context?.pointee.data = nil
            context = nil
        }
        onConnect?(ok ? nil : why)
    }

    fileprivate func disconnected(_ why: String) {
        let wasOurs = context == nil
        context?.pointee.data = nil  // hiredis frees it right after this callback
        context = nil
        isConnected = false
        pendingSince.removeAll()
        pendingHead = 0
        if !wasOurs { onLost?(why) }
    }

    fileprivate func message(_ reply: RedisReply) {
        onMessage?(reply)
    }
}

/// The Swift handler behind one command's privdata: retained when sent,
/// released by the one callback hiredis makes for it.
private final class ReplyHandler {
    let body: (RedisReply?) -> Void
    init(_ body: @escaping (RedisReply?) -> Void) { self.body = body }
}

private func owner(_ ac: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
    guard let data = ac?.pointee.data else { return nil }
    return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
}

private func errorText(_ ac: UnsafePointer<redisAsyncContext>?, _ fallback: String) -> String {
    guard let ac, ac.pointee.err != 0, let s = ac.pointee.errstr else { return fallback }
    let text = String(cString: s)
    return text.isEmpty ? fallback : text
}

private let connectTrampoline: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { ac, status in
    owner(ac)?.connected(status == gw_redis_ok(), errorText(ac, "connect failed"))
}

private let disconnectTrampoline: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { ac, _ in
    owner(ac)?.disconnected(errorText(ac, "connection closed"))
}

private let replyTrampoline: @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?,
                                             UnsafeMutableRawPointer?) -> Void = { ac, reply, privdata in
    guard let privdata else { return }
    let handler = Unmanaged<ReplyHandler>.fromOpaque(privdata).takeRetainedValue()
    owner(ac.map { UnsafePointer($0) })?.answered()
    handler.body(reply.map { RedisReply(copying: $0) })
}

private let messageTrampoline: @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?,
                                               UnsafeMutableRawPointer?) -> Void = { _, reply, privdata in
    guard let privdata, let reply else { return }  // nil: the context is being freed
    Unmanaged<RedisConnection>.fromOpaque(privdata).takeUnretainedValue().message(RedisReply(copying: reply))
}
