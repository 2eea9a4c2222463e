public import GatewayAuth
import Glibc

/// The embedded durable store (SPEC §7): an append-only log at
/// `state_dir/state.log`, replayed into memory on open, written by one
/// thread with group commit (one write and one fdatasync per batch), every
/// answer delivered only after its batch is on disk. `state_dir/lock`
/// keeps a second gateway process out.
///
/// Open it (which locks and replays), then `start(feed:)`: operations
/// queued before `start` wait for it. `stop()` finishes what is queued and
/// releases the directory.
public final class EmbeddedStore: StateStore {
    /// Tuning, mostly for tests.
    public struct Options: Sendable {
        /// How often expired entries are dropped.
        public var sweepInterval: Duration
        /// The log is rewritten when over this size and over twice its live size.
        public var compactionThreshold: Int
        /// Unix milliseconds: what "expired" is measured against.
        public var clock: @Sendable () -> Int64

        public init(sweepInterval: Duration = .seconds(60), compactionThreshold: Int = 4 << 20,
                    clock: @escaping @Sendable () -> Int64 = EmbeddedStore.wallClockMillis) {
            self.sweepInterval = sweepInterval
            self.compactionThreshold = compactionThreshold
            self.clock = clock
        }
    }

    public let kind = "embedded"
    public let directory: String
    public let logPath: String
    public let sessionKey: [UInt8]?
    private let writer: StoreWriter

    public var status: StoreStatus { writer.currentStatus.withLock { $0 } }

    /// Opens (creating it if missing) `directory`: takes its lock, replays
    /// its log. `log` receives one line per notable event (a torn record
    /// skipped, a failed write, a compaction). Throws `.open` with a
    /// message naming the directory or file.
    ///
    /// `replayed`, when given, receives the log's revocation changes while
    /// it is read: `.added` and `.removed` batches in log order, one call
    /// at a time from a thread of the replay (the opening thread or the
    /// applier's), all of them before `init` returns; when it throws, what
    /// was sent is to be thrown away. Applied in order to an empty set they leave the store's
    /// set; a caller that builds its view from them (on another thread,
    /// overlapping the replay) already has what `start`'s feed would begin
    /// with, so that feed begins without its `.reset`: its first change is
    /// the removal of entries that had expired by then, if any.
    public convenience init(directory: String, options: Options = Options(),
                            log: @escaping @Sendable (String) -> Void,
                            replayed: (@Sendable (RevocationChange) -> Void)? = nil) throws(StoreError) {
        try self.init(directory: directory, options: options, log: log, replayed: replayed, openLogFile: { $0 })
    }

    /// `openLogFile` wraps every log file opened for appending: the seam
    /// through which tests make writes fail and count fsyncs.
    init(directory: String, options: Options, log: @escaping @Sendable (String) -> Void,
         replayed: (@Sendable (RevocationChange) -> Void)? = nil,
         openLogFile: @escaping (PosixLogFile) -> any LogFileIO) throws(StoreError) {
        self.directory = directory
        logPath = directory + "/state.log"
        do { try PosixFiles.makeDirectory(directory) } catch { throw .open(error.description) }
        let lock = try StateDirectoryLock(directory: directory)
        PosixFiles.remove(logPath + ".tmp")   // a compaction cut short

        let state = StoreState(expectedRevocations: Self.expectedRevocations(directory: directory))
        let file: any LogFileIO
        var size: Int
        var batcher = replayed.map { ReplayBatcher($0) }
        do {
            let replayedSize = try LogReplay.replay(path: logPath, into: state, batcher: &batcher, log: log)
            batcher?.flush()
            if let good = replayedSize {
                file = openLogFile(try PosixLogFile(path: logPath, create: false))
                size = good
                if state.sessionKey == nil {
                    // Only a header survived (a torn first record): start the log over.
                    guard good == LogFormat.headerSize else { throw StoreError.open("\(logPath): no session key") }
                    var w = LogRecordWriter()
                    LogRecord.sessionKey(try Self.newKey()).encode(into: &w)
                    try file.append(w.bytes)
                    try file.sync()
                    size += w.bytes.count
                    try state.apply(LogRecord.decode(w.bytes, LogFormat.frameSize..<w.bytes.count))
                }
            } else {
                let key = try Self.newKey()
                var w = LogRecordWriter()
                w.bytes = LogFormat.header
                LogRecord.sessionKey(key).encode(into: &w)
                file = try PosixFiles.replaceAtomically(logPath, with: w.bytes, opening: openLogFile)
                try PosixFiles.syncDirectory(directory)
                state.sessionKey = key
                size = w.bytes.count
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .open("\(logPath): \(error)")
        }
        sessionKey = state.sessionKey
        writer = StoreWriter(state: state, file: file, logSize: size, logPath: logPath, directory: directory,
                             lock: lock, options: options, feedStartsWithReset: replayed == nil,
                             openLogFile: openLogFile, log: log)
    }

    deinit {
        writer.stop()
    }

    /// At most how many revocations the log in `directory` holds: a
    /// revocation record takes 73 bytes at least, so reserving for as many
    /// as the file could hold saves the rehashes of a growing table.
    static func expectedRevocations(directory: String) -> Int {
        ((try? PosixFiles.size(directory + "/state.log")) ?? nil).map { $0 / 72 } ?? 0
    }

    private static func newKey() throws(StoreError) -> [UInt8] {
        do { return try SecureRandom.bytes(32) } catch { throw .open("session key: \(error)") }
    }

    /// Unix milliseconds from the system clock.
    @Sendable public static func wallClockMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    // MARK: StateStore

    public func start(feed: @escaping @Sendable (RevocationChange) -> Void) {
        if !writer.start(feed: feed) {
            writer.currentStatus.withLock { $0 = .down("cannot start the store thread") }
        }
    }

    public func stop() {
        writer.stop()
    }

    public func addRevocation(_ target: Revocation.Target, until: Int64, now: Int64,
                              on executor: any CompletionExecutor,
                              _ done: @escaping @Sendable (Result<Revocation, StoreError>) -> Void) {
        submit(on: executor, done) { state, fx in
            .success(state.addRevocation(target, until: until, now: now, &fx))
        }
    }

    public func deleteRevocation(id: String, on executor: any CompletionExecutor,
                                 _ done: @escaping @Sendable (Result<Bool, StoreError>) -> Void) {
        submit(on: executor, done) { state, fx in .success(state.deleteRevocation(id: id, &fx)) }
    }

    public func listRevocations(cursor: String?, limit: Int, now: Int64, on executor: any CompletionExecutor,
                                _ done: @escaping @Sendable (Result<RevocationPage, StoreError>) -> Void) {
        submit(on: executor, done) { state, _ in state.listRevocations(cursor: cursor, limit: limit, now: now) }
    }

    public func startSession(_ session: SessionRecord, refreshTokenHash: [UInt8], now: Int64, refreshTTL: Int64,
                             on executor: any CompletionExecutor,
                             _ done: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        submit(on: executor, done) { state, fx in
            state.startSession(session, tokenHash: refreshTokenHash, now: now, refreshTTL: refreshTTL, &fx)
            return .success(())
        }
    }

    public func rotate(refreshTokenHash: [UInt8], successorHash: [UInt8], now: Int64, grace: Int64,
                       refreshTTL: Int64, on executor: any CompletionExecutor,
                       _ done: @escaping @Sendable (Result<RotateOutcome, StoreError>) -> Void) {
        submit(on: executor, done) { state, fx in
            .success(state.rotate(tokenHash: refreshTokenHash, successorHash: successorHash, now: now,
                                  grace: grace, refreshTTL: refreshTTL, &fx))
        }
    }

    public func endSession(_ which: SessionSelector, now: Int64, fallbackUntil: Int64,
                           on executor: any CompletionExecutor,
                           _ done: @escaping @Sendable (Result<String?, StoreError>) -> Void) {
        submit(on: executor, done) { state, fx in
            .success(state.endSession(which, now: now, fallbackUntil: fallbackUntil, &fx))
        }
    }

    /// Queues `body` for the writer thread; `done` gets its result on
    /// `executor` once the batch is durable, or the batch's error.
    private func submit<R: Sendable>(on executor: any CompletionExecutor,
                                     _ done: @escaping @Sendable (Result<R, StoreError>) -> Void,
                                     _ body: @escaping @Sendable (StoreState, inout BatchEffects) -> Result<R, StoreError>) {
        let job = StoreJob { state, fx in
            let result = body(state, &fx)
            return { failure in
                let answer = failure.map { Result<R, StoreError>.failure($0) } ?? result
                executor.post { done(answer) }
            }
        }
        if !writer.submit(job) {
            executor.post { done(.failure(.unavailable("the store is stopped"))) }
        }
    }
}
