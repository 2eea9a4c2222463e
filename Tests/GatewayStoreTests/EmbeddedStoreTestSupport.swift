import Dispatch
import Glibc
import Synchronization
@testable import GatewayStore
import GatewayAuth
import GatewayLoop

/// Calls `start` with a completion and blocks until it has run once.
func waitFor<R: Sendable>(_ start: (@escaping @Sendable (R) -> Void) -> Void) -> R {
    let box = Mutex<R?>(nil)
    let done = DispatchSemaphore(value: 0)
    start { value in
        box.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return box.withLock { $0! }
}

/// A fresh directory under /tmp, removed (with the store's files) on `remove()`.
struct TempDirectory {
    let path: String
    var stateDir: String { path + "/state" }
    var logPath: String { stateDir + "/state.log" }

    init() {
        var template = Array("/tmp/gwstore-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> String? in
            buf.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        guard let made else { preconditionFailure("mkdtemp failed") }
        path = made
    }

    func remove() {
        for name in ["state.log", "state.log.tmp", "lock"] { unlink(stateDir + "/" + name) }
        rmdir(stateDir)
        rmdir(path)
    }
}

/// Unix ms, set by the test: the store's sweep clock.
final class TestClock: Sendable {
    private let value: Mutex<Int64>
    init(_ ms: Int64) { value = Mutex(ms) }
    var millis: Int64 { value.withLock { $0 } }
    func set(_ ms: Int64) { value.withLock { $0 = ms } }
}

/// Log lines the store wrote.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// Switches shared by every `FaultyLogFile` of one store: fail the next
/// writes or syncs with an errno, count syncs.
final class FaultSwitch: Sendable {
    private struct State {
        var failWrites: Int32 = 0, failSyncs: Int32 = 0, syncs = 0, writes = 0
        var syncDelayMicros: UInt32 = 0
    }
    private let state = Mutex(State())

    /// Makes each sync take this long, as a disk would (tmpfs syncs in no time).
    func slowSyncs(micros: UInt32) { state.withLock { $0.syncDelayMicros = micros } }

    func failWrites(with code: Int32) { state.withLock { $0.failWrites = code } }
    func failSyncs(with code: Int32) { state.withLock { $0.failSyncs = code } }
    func heal() { state.withLock { $0.failWrites = 0; $0.failSyncs = 0 } }
    var syncs: Int { state.withLock { $0.syncs } }
    var writes: Int { state.withLock { $0.writes } }

    fileprivate func beforeWrite() -> Int32 { state.withLock { $0.writes += 1; return $0.failWrites } }
    fileprivate func beforeSync() -> Int32 {
        let (code, delay) = state.withLock { s in s.syncs += 1; return (s.failSyncs, s.syncDelayMicros) }
        if delay > 0 { usleep(delay) }
        return code
    }
}

/// The real log file with a `FaultSwitch` in front. A failed write still
/// appends half of its bytes, as a full disk can.
final class FaultyLogFile: LogFileIO {
    let inner: PosixLogFile
    let faults: FaultSwitch

    init(_ inner: PosixLogFile, _ faults: FaultSwitch) {
        self.inner = inner
        self.faults = faults
    }

    func append(_ bytes: [UInt8]) throws(FileError) {
        let code = faults.beforeWrite()
        if code != 0 {
            try inner.append(Array(bytes.prefix(bytes.count / 2)))
            throw FileError(operation: "write", path: inner.path, code: code)
        }
        try inner.append(bytes)
    }

    func sync() throws(FileError) {
        let code = faults.beforeSync()
        if code != 0 { throw FileError(operation: "fdatasync", path: inner.path, code: code) }
        try inner.sync()
    }

    func truncate(to size: Int) throws(FileError) { try inner.truncate(to: size) }
    func close() { inner.close() }
}

/// 2027-01-15 08:00:00 UTC in ms: the tests' "now".
let testNow: Int64 = 1_800_000_000_000

/// One opened store with its instruments.
struct StoreFixture {
    let store: EmbeddedStore
    let faults: FaultSwitch
    let feed: FeedRecorder
    let logs: LogLines
    let clock: TestClock

    static func open(_ dir: TempDirectory, clock: TestClock = TestClock(testNow),
                     compactionThreshold: Int = 4 << 20, sweepInterval: Duration = .seconds(3600),
                     start: Bool = true) throws(StoreError) -> StoreFixture {
        let faults = FaultSwitch()
        let logs = LogLines()
        let feed = FeedRecorder()
        let options = EmbeddedStore.Options(sweepInterval: sweepInterval, compactionThreshold: compactionThreshold,
                                            clock: { clock.millis })
        let store = try EmbeddedStore(directory: dir.stateDir, options: options, log: { logs.append($0) },
                                      openLogFile: { FaultyLogFile($0, faults) })
        if start { store.start(feed: { feed.append($0) }) }
        return StoreFixture(store: store, faults: faults, feed: feed, logs: logs, clock: clock)
    }

    // Blocking forms of the store's calls.

    func add(_ target: Revocation.Target, until: Int64, now: Int64 = testNow / 1000) -> Result<Revocation, StoreError> {
        waitFor { done in store.addRevocation(target, until: until, now: now, on: InlineExecutor(), done) }
    }

    func delete(_ id: String) -> Result<Bool, StoreError> {
        waitFor { done in store.deleteRevocation(id: id, on: InlineExecutor(), done) }
    }

    func list(cursor: String? = nil, limit: Int = 100, now: Int64 = testNow / 1000) -> Result<RevocationPage, StoreError> {
        waitFor { done in store.listRevocations(cursor: cursor, limit: limit, now: now, on: InlineExecutor(), done) }
    }

    func startSession(_ s: SessionRecord, token: [UInt8], now: Int64 = testNow,
                      ttl: Int64 = 7 * 86_400_000) -> Result<Void, StoreError> {
        waitFor { done in
            store.startSession(s, refreshTokenHash: token, now: now, refreshTTL: ttl, on: InlineExecutor(), done)
        }
    }

    func rotate(_ token: [UInt8], successor: [UInt8], now: Int64, grace: Int64 = 30_000,
                ttl: Int64 = 7 * 86_400_000) -> Result<RotateOutcome, StoreError> {
        waitFor { done in
            store.rotate(refreshTokenHash: token, successorHash: successor, now: now, grace: grace,
                         refreshTTL: ttl, on: InlineExecutor(), done)
        }
    }

    func endSession(_ which: SessionSelector, now: Int64 = testNow, fallback: Int64 = 3600) -> Result<String?, StoreError> {
        waitFor { done in
            store.endSession(which, now: now, fallbackUntil: fallback, on: InlineExecutor(), done)
        }
    }
}

/// A 32-byte token hash made from a label.
func hash(_ label: String) -> [UInt8] { SessionCrypto.tokenHash(Array(label.utf8)) }

/// Deterministic pseudo-random bytes for the garbage tests (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whole-file helpers for damaging logs on purpose.
func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out += chunk[0..<n]
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// File offsets of the records of a log image (after the header).
func recordOffsets(_ bytes: [UInt8]) -> [Int] {
    var out: [Int] = []
    var at = LogFormat.headerSize
    while at + LogFormat.frameSize <= bytes.count {
        out.append(at)
        let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        at += LogFormat.frameSize + length
    }
    return out
}

func fileSize(_ path: String) -> Int { (try? PosixFiles.size(path)).flatMap { $0 } ?? -1 }
