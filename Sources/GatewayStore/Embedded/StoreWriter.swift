import Dispatch
import Glibc
import GatewayLoop
import Synchronization

/// One queued operation. `perform` runs on the writer thread against the
/// state and returns how to complete the caller once the batch's fate is
/// known: nil (durable: deliver the answer) or the error of a failed batch.
struct StoreJob: Sendable {
    typealias Deliver = @Sendable (StoreError?) -> Void
    let perform: @Sendable (StoreState, inout BatchEffects) -> Deliver
}

/// The embedded store's writer thread and what it alone touches: the
/// state, the log file, the feed. Group commit: each turn takes every
/// queued job, applies them in order, appends their records with one
/// write and one fdatasync, then sends the feed and completes them all.
/// A job queued while the fsync runs goes into the next turn.
///
/// Thread rule: `state`, `file`, `logSize`, `feed` are touched by the
/// opener before `start` and by the writer thread after; `inbox` and
/// `currentStatus` are locked.
final class StoreWriter: @unchecked Sendable {  // unchecked: see the thread rule above
    struct Inbox {
        var jobs: [StoreJob] = []
        var started = false
        var stopping = false
    }

    let inbox = Mutex(Inbox())
    let currentStatus = Mutex(StoreStatus.up)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let writerThread = Mutex<pthread_t?>(nil)

    let state: StoreState
    private var file: any LogFileIO
    private(set) var logSize: Int
    /// A failed batch whose truncate also failed leaves bytes after
    /// `logSize`: cut them before anything else is appended.
    private var needsTruncate = false
    /// No compaction attempt before the log reaches this size (backs off
    /// after a failed one).
    private var nextCompactionSize = 0
    /// The directory fsync after a compaction's rename failed.
    private var directoryUnsynced = false
    private var feed: (@Sendable (RevocationChange) -> Void)?

    let logPath: String
    let directory: String
    let options: EmbeddedStore.Options
    /// False when the opener took the replayed set itself (`replayed:`).
    private let feedStartsWithReset: Bool
    private let openLogFile: (PosixLogFile) -> any LogFileIO
    private let log: @Sendable (String) -> Void
    /// Released after the last write, by whichever thread closes the log.
    private let lock: StateDirectoryLock

    init(state: StoreState, file: any LogFileIO, logSize: Int, logPath: String, directory: String,
         lock: StateDirectoryLock, options: EmbeddedStore.Options, feedStartsWithReset: Bool,
         openLogFile: @escaping (PosixLogFile) -> any LogFileIO, log: @escaping @Sendable (String) -> Void) {
        self.feedStartsWithReset = feedStartsWithReset
        self.state = state
        self.lock = lock
        self.file = file
        self.logSize = logSize
        self.logPath = logPath
        self.directory = directory
        self.options = options
        self.openLogFile = openLogFile
        self.log = log
    }

    // MARK: any thread

    /// Queues `job`; false once stopping.
    func submit(_ job: StoreJob) -> Bool {
        let accepted = inbox.withLock { box -> Bool in
            if box.stopping { return false }
            box.jobs.append(job)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Starts the thread (once). False when the system refused a thread.
    func start(feed: @escaping @Sendable (RevocationChange) -> Void) -> Bool {
        let first = inbox.withLock { box -> Bool in
            if box.started || box.stopping { return false }
            box.started = true
            return true
        }
        guard first else { return true }
        self.feed = feed
        return OSThread.spawn(name: "gw-store") { self.run() }
    }

    /// Finishes what is queued, stops the thread, closes the log, releases
    /// the directory lock. Idempotent.
    /// Called on the writer thread itself (a completion dropping the last
    /// reference to the store), it only asks: the thread closes the log as
    /// it leaves, and waiting for that here would never end.
    func stop() {
        let (wasStarted, alreadyStopping) = inbox.withLock { box in
            defer { box.stopping = true }
            return (box.started, box.stopping)
        }
        if alreadyStopping { return }
        guard wasStarted else {
            file.close()
            lock.release()
            return
        }
        wake.signal()
        let onWriter = writerThread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if !onWriter { finished.wait() }
    }

    // MARK: writer thread

    private func run() {
        writerThread.withLock { $0 = pthread_self() }
        if feedStartsWithReset {
            sweep(sendRemovals: false)
            feed?(.reset(state.liveRevocations()))
        } else {
            sweep(sendRemovals: true)
        }
        let period = UInt64(max(options.sweepInterval.components.seconds, 0)) * 1_000_000_000
            + UInt64(max(options.sweepInterval.components.attoseconds / 1_000_000_000, 0))
        var nextSweep = DispatchTime.now().uptimeNanoseconds + period
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            if now < nextSweep {
                _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: nextSweep))
            }
            let (jobs, stopping) = inbox.withLock { box in
                defer { box.jobs.removeAll(keepingCapacity: true) }
                return (box.jobs, box.stopping)
            }
            if !jobs.isEmpty { commit(jobs) }
            if DispatchTime.now().uptimeNanoseconds >= nextSweep {
                sweep(sendRemovals: true)
                nextSweep = DispatchTime.now().uptimeNanoseconds + period
            }
            state.compactOrder()
            compactIfWorthIt()
            // Nothing is accepted once `stopping` is set, so the jobs taken
            // with it were the last.
            if stopping { break }
        }
        file.close()
        lock.release()
        finished.signal()
    }

    /// One group commit.
    private func commit(_ jobs: [StoreJob]) {
        var fx = BatchEffects()
        var deliveries: [StoreJob.Deliver] = []
        deliveries.reserveCapacity(jobs.count)
        for job in jobs { deliveries.append(job.perform(state, &fx)) }
        if fx.records.bytes.isEmpty {
            // Reads only: everything they saw is durable already.
            for d in deliveries { d(nil) }
            return
        }
        do throws(FileError) {
            if needsTruncate {
                try file.truncate(to: logSize)
                needsTruncate = false
            }
            try file.append(fx.records.bytes)
            try file.sync()
            if directoryUnsynced {
                try PosixFiles.syncDirectory(directory)
                directoryUnsynced = false
            }
        } catch {
            state.rollBack(fx.undo)
            do { try file.truncate(to: logSize) } catch { needsTruncate = true }
            let reason = error.description
            log("state store: \(reason); \(jobs.count) operation(s) refused")
            currentStatus.withLock { $0 = .down(reason) }
            for d in deliveries { d(.unavailable(reason)) }
            return
        }
        logSize += fx.records.bytes.count
        currentStatus.withLock { if $0 != .up { $0 = .up } }
        // The feed first: once a caller hears "revoked", this process's
        // view already has it (completions are posted, the feed is direct).
        if let feed { for change in fx.feed() { feed(change) } }
        for d in deliveries { d(nil) }
    }

    private func sweep(sendRemovals: Bool) {
        let dropped = state.sweep(nowMillis: options.clock())
        if sendRemovals, !dropped.isEmpty { feed?(.removed(dropped)) }
    }

    /// Rewrites the log as the live state when it is over twice that and
    /// over the threshold: `state.log.tmp`, fsynced, renamed over, the
    /// directory fsynced. A failure keeps the old log and backs off.
    private func compactIfWorthIt() {
        guard logSize > options.compactionThreshold, logSize > 2 * state.liveBytes,
              logSize >= nextCompactionSize, !needsTruncate else { return }
        sweep(sendRemovals: true)
        let image = state.snapshot()
        do {
            let fresh = try PosixFiles.replaceAtomically(logPath, with: image, opening: openLogFile)
            file.close()
            file = fresh
            log("\(logPath): compacted \(logSize) bytes to \(image.count)")
            logSize = image.count
            nextCompactionSize = 0
            do { try PosixFiles.syncDirectory(directory) } catch {
                // Until the rename is durable, appends to the new file could
                // vanish in a crash: the next batch syncs it first or fails.
                directoryUnsynced = true
                log("\(logPath): after compaction: \(error)")
            }
        } catch {
            log("\(logPath): compaction failed: \(error)")
            nextCompactionSize = logSize + options.compactionThreshold
        }
    }
}
