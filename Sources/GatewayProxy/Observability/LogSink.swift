import CLibevent
import Dispatch
import GatewayCore
import Synchronization
import GatewayLoop

/// Moves finished log lines from the event loops to a file descriptor on a
/// thread of its own, so a slow stdout (a pipe nobody reads fast enough)
/// never blocks a worker. Workers hand over whole batches, not lines: one
/// lock per batch. When the backlog passes `maxBacklogBytes` new batches are
/// dropped and counted rather than growing memory without bound.
final class LogSink: Sendable {
    private struct State {
        var batches: [[UInt8]] = []
        var bytes = 0
        var dropped = 0
        var closed = false
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let fd: Int32
    let maxBacklogBytes: Int

    init(fd: Int32, maxBacklogBytes: Int = 16 << 20) {
        self.fd = fd
        self.maxBacklogBytes = maxBacklogBytes
        OSThread.spawn(name: "gateway-log") { [self] in self.writerLoop() }
    }

    /// Any thread. Takes ownership of `batch`.
    func submit(_ batch: [UInt8]) {
        let accepted = state.withLock { s -> Bool in
            if s.bytes + batch.count > maxBacklogBytes { s.dropped += 1; return false }
            s.batches.append(batch)
            s.bytes += batch.count
            return true
        }
        if accepted { wake.signal() }
    }

    var droppedBatches: Int { state.withLock { $0.dropped } }

    /// Writes what is queued, then stops the writer thread.
    func close() {
        state.withLock { $0.closed = true }
        wake.signal()
        done.wait()
    }

    private func writerLoop() {
        while true {
            wake.wait()
            let (work, closed) = state.withLock { s -> ([[UInt8]], Bool) in
                let w = s.batches
                s.batches.removeAll(keepingCapacity: true)
                s.bytes = 0
                return (w, s.closed)
            }
            for b in work { writeAll(b) }
            if closed { done.signal(); return }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = CLibevent.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 {
                    if gw_errno() == EINTR { continue }
                    return  // stdout gone: nothing sensible left to do with the line
                }
                off += n
            }
        }
    }
}

/// A worker's pending log lines, flushed to the sink by size or by a timer.
/// Loop thread only.
final class LogBuffer {
    private(set) var bytes: [UInt8] = []
    private let sink: LogSink
    static let flushBytes = 32 << 10

    init(sink: LogSink) {
        self.sink = sink
        bytes.reserveCapacity(Self.flushBytes + 4096)
    }

    func append(_ body: (inout [UInt8]) -> Void) {
        body(&bytes)
        if bytes.count >= Self.flushBytes { flush() }
    }

    func flush() {
        guard !bytes.isEmpty else { return }
        var batch: [UInt8] = []
        batch.reserveCapacity(Self.flushBytes + 4096)
        swap(&batch, &bytes)
        sink.submit(batch)
    }
}

/// Operational messages (start, reload, upstream down) to stderr, one line
/// each. Rare, so written directly.
enum OpsLog {
    static func info(_ message: String) { emit("info", message) }
    static func warning(_ message: String) { emit("warn", message) }
    static func error(_ message: String) { emit("error", message) }

    private static func emit(_ level: String, _ message: String) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        let ms = Int64(tv.tv_sec) * 1000 + Int64(tv.tv_usec) / 1000
        let line = "\(UTCTimestamp.rfc3339(unixMs: ms)) \(level) \(message)\n"
        line.utf8CString.withUnsafeBufferPointer { p in
            _ = CLibevent.write(2, p.baseAddress, p.count - 1)
        }
    }
}

