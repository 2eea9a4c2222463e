// Embedded store figures: acknowledged revocations per second under 64
// concurrent clients (group commit), and restart time with 10^6 entries.
//   swift run -c release StoreBench [dir] [restart]   ("restart": part (b) only)
//   StoreBench open DIR [once]  times a gateway's start-up on DIR, phase by phase
//   StoreBench fill DIR N    leaves N revocations (jti, sid, sub mixed) in the
//                            state_dir DIR, for gateway-level benchmarks
import Dispatch
import Glibc
import GatewayAuth
import GatewayLoop
import GatewayStore
import Synchronization

struct Inline: CompletionExecutor {
    func post(_ work: @escaping @Sendable () -> Void) { work() }
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// `x` with `digits` decimals (no Foundation for String(format:)).
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * scale).rounded())
    let whole = n / Int(scale), frac = abs(n % Int(scale))
    guard digits > 0 else { return String(whole) }
    let f = String(frac)
    return "\(whole)." + String(repeating: "0", count: digits - f.count) + f
}

/// One line straight to fd 1: figures show as they come, even through a pipe.
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

func removeTree(_ dir: String) {
    for name in ["state.log", "state.log.tmp", "lock"] { unlink(dir + "/" + name) }
    rmdir(dir)
}

func open(_ dir: String) -> EmbeddedStore {
    do {
        return try EmbeddedStore(directory: dir, log: { say("store: \($0)") })
    } catch {
        say("open \(dir): \(error)")
        exit(1)
    }
}

// open DIR: what a gateway's start-up does with the state_dir DIR, phase by
// phase: first the way the gateway does it (the view built on a second
// thread while the log is replayed), then all on one thread for comparison
// (open, then a `.reset` feed hashed into a builder).
// ("open DIR once": the gateway's way only, e.g. under callgrind.)
if CommandLine.arguments.count >= 3, CommandLine.arguments[1] == "open" {
    let dir = CommandLine.arguments[2]
    func s(_ a: UInt64, _ b: UInt64) -> String { fixed(Double(b - a) / 1e9, 3) }
    do {
        let t0 = monotonicNanos()
        let (store, builder) = try EmbeddedStore.openLoadingView(directory: dir, log: { say("store: \($0)") })
        let t1 = monotonicNanos()
        let entries = builder.snapshot().counts.reduce(0) { $0 + $1.count }
        let t2 = monotonicNanos()
        say("overlapped: open + view loaded \(s(t0, t1)) s; snapshot \(s(t1, t2)) s; "
            + "view ready at \(s(t0, t2)) s (\(entries) entries)")
        store.stop()
    } catch {
        say("open \(dir): \(error)")
        exit(1)
    }
    if CommandLine.arguments.count == 4, CommandLine.arguments[3] == "once" { exit(0) }
    let t0 = monotonicNanos()
    let store = open(dir)
    let t1 = monotonicNanos()
    let ready = DispatchSemaphore(value: 0)
    nonisolated(unsafe) let builder = RevocationViewBuilder()   // used on the store's thread only
    let views = Atomic<Int>(0)
    let marks = Mutex<[UInt64]>([])
    store.start(feed: { change in
        guard case .reset(let all) = change else { return }
        let fed = monotonicNanos()
        builder.reset(all)
        let hashed = monotonicNanos()
        views.store(builder.snapshot().counts.reduce(0) { $0 + $1.count }, ordering: .relaxed)
        marks.withLock { $0 = [fed, hashed, monotonicNanos()] }
        ready.signal()
    })
    ready.wait()
    let m = marks.withLock { $0 }
    say("one thread: open \(s(t0, t1)) s; reset fed at \(s(t0, m[0])) s; builder reset \(s(m[0], m[1])) s; "
        + "snapshot \(s(m[1], m[2])) s; view ready at \(s(t0, m[2])) s (\(views.load(ordering: .relaxed)) entries)")
    store.stop()
    exit(0)
}

// fill DIR N: a state_dir with N live revocations, then exit.
if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "fill", let n = Int(CommandLine.arguments[3]) {
    let dir = CommandLine.arguments[2]
    let store = open(dir)
    store.start(feed: { _ in })
    let now = EmbeddedStore.wallClockMillis() / 1000
    let done = DispatchSemaphore(value: 0)
    for i in 0..<n {
        let target: Revocation.Target
        switch i % 10 {
        case 0..<5: target = .jti("fill-jti-\(i)")
        case 5..<8: target = .sid("fill-sid-\(i)")
        default: target = .subject("fill-sub-\(i)", before: now - 60)
        }
        store.addRevocation(target, until: now + 7 * 86_400, now: now, on: Inline()) { _ in done.signal() }
    }
    for _ in 0..<n { done.wait() }
    store.stop()
    say("filled \(dir) with \(n) revocations")
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst().filter { $0 != "restart" }
let restartOnly = CommandLine.arguments.contains("restart")
let root: String
if let given = arguments.first {
    root = given
    _ = mkdir(root, 0o700)
} else {
    var template = Array("/tmp/storebench-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ buf in
        buf.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }) else { say("mkdtemp failed"); exit(1) }
    root = made
}
let nowSeconds = EmbeddedStore.wallClockMillis() / 1000

// (a) 64 clients, each adding back to back for 5 s.
if !restartOnly {
    let dir = root + "/throughput"
    removeTree(dir)
    let store = open(dir)
    store.start(feed: { _ in })
    let clients = 64
    let duration: UInt64 = 5_000_000_000
    let latencies = Mutex<[UInt64]>([])
    let finished = DispatchSemaphore(value: 0)
    let failures = Atomic<Int>(0)
    let startAt = monotonicNanos()
    for c in 0..<clients {
        OSThread.spawn(name: "bench-\(c)") {
            var mine: [UInt64] = []
            mine.reserveCapacity(1 << 16)
            let acked = DispatchSemaphore(value: 0)
            var i = 0
            while monotonicNanos() - startAt < duration {
                let t0 = monotonicNanos()
                store.addRevocation(.jti("bench-\(c)-\(i)"), until: nowSeconds + 3600, now: nowSeconds,
                                    on: Inline()) { r in
                    if case .failure = r { failures.add(1, ordering: .relaxed) }
                    acked.signal()
                }
                acked.wait()
                mine.append(monotonicNanos() - t0)
                i += 1
            }
            latencies.withLock { $0 += mine }
            finished.signal()
        }
    }
    for _ in 0..<clients { finished.wait() }
    let elapsed = Double(monotonicNanos() - startAt) / 1e9
    var all = latencies.withLock { $0 }
    all.sort()
    func pct(_ p: Double) -> Double { all.isEmpty ? 0 : Double(all[min(all.count - 1, Int(Double(all.count) * p))]) / 1e6 }
    say("(a) \(clients) clients, \(fixed(elapsed, 1)) s: \(all.count) acknowledged revocations, "
          + "\(Int(Double(all.count) / elapsed))/s, ack latency p50 \(fixed(pct(0.50), 2)) ms, "
          + "p99 \(fixed(pct(0.99), 2)) ms, failures \(failures.load(ordering: .relaxed))")
    store.stop()
    removeTree(dir)
}

// (b) 10^6 revocations written, closed, reopened.
do {
    let dir = root + "/restart"
    removeTree(dir)
    let count = 1_000_000
    let store = open(dir)
    store.start(feed: { _ in })
    let done = DispatchSemaphore(value: 0)
    let t0 = monotonicNanos()
    for i in 0..<count {
        store.addRevocation(.jti("restart-\(i)"), until: nowSeconds + 86_400, now: nowSeconds, on: Inline()) { _ in
            done.signal()
        }
    }
    for _ in 0..<count { done.wait() }
    let writeSeconds = Double(monotonicNanos() - t0) / 1e9
    store.stop()
    var st = stat()
    stat(dir + "/state.log", &st)
    let t1 = monotonicNanos()
    let reopened = open(dir)
    let restart = Double(monotonicNanos() - t1) / 1e9
    let ready = DispatchSemaphore(value: 0)
    let seen = Atomic<Int>(0)
    reopened.start(feed: { change in
        if case .reset(let all) = change { seen.store(all.count, ordering: .relaxed); ready.signal() }
    })
    ready.wait()
    let untilFeed = Double(monotonicNanos() - t1) / 1e9
    say("(b) \(count) revocations written in \(fixed(writeSeconds, 1)) s; log \(st.st_size) bytes "
          + "(\(fixed(Double(st.st_size) / 1_048_576, 1)) MiB); restart (open + replay) "
          + "\(fixed(restart, 3)) s; reset feed with \(seen.load(ordering: .relaxed)) entries after "
          + "\(fixed(untilFeed, 3)) s")
    reopened.stop()
    removeTree(dir)
}
if arguments.isEmpty { rmdir(root) }
