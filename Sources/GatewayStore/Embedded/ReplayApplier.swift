import Dispatch
import GatewayLoop
import Synchronization

/// The second half of a replay on a thread of its own: records the reader
/// has framed, checked and decoded are applied to the store's state (and
/// noted for the view, `ReplayBatcher`) while the reader goes on with the
/// next ones. At 10^6 entries decoding and applying are about half of the
/// replay each; on a second core they overlap, and start-up is that much
/// shorter. The result is the same as applying inline, record by record:
/// one thread applies, in log order, and nothing after a record that fails.
///
/// Bounded: at most `maxQueued` batches wait, so a reader far ahead of
/// the applier waits instead of holding the whole log decoded.
final class ReplayApplier: @unchecked Sendable {  // unchecked: each field has one owner at a time, see below
    static let batchSize = 1024
    static let maxQueued = 8

    private struct Item {
        var record: LogRecord
        var number: Int
        var offset: Int
    }

    // The applier's (its thread, or the reader's when there is no thread),
    // the reader's again once `finish` has returned.
    private let state: StoreState
    private var batcher: ReplayBatcher?
    private var failure: LogFormatError?

    // The reader's.
    private var pending: [Item] = []
    private var threaded = false

    // Shared.
    private let queue = Mutex<(batches: [[Item]], finished: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: ReplayApplier.maxQueued)
    private let drained = DispatchSemaphore(value: 0)

    init(state: StoreState, batcher: ReplayBatcher?) {
        self.state = state
        self.batcher = batcher
        pending.reserveCapacity(Self.batchSize)
        threaded = OSThread.spawn(name: "gw-store-replay") { [self] in self.run() }
    }

    /// The record numbered `number` (from 0), framed at file `offset`.
    func add(_ record: LogRecord, number: Int, offset: Int) {
        guard threaded else {
            apply(Item(record: record, number: number, offset: offset))
            return
        }
        pending.append(Item(record: record, number: number, offset: offset))
        if pending.count >= Self.batchSize { hand() }
    }

    /// Waits until everything added is applied. Returns the first record
    /// that failed to apply (nothing after it was applied), and the batcher
    /// with every applied record noted (not flushed).
    func finish() -> (failure: LogFormatError?, batcher: ReplayBatcher?) {
        if threaded {
            if !pending.isEmpty { hand() }
            queue.withLock { $0.finished = true }
            wake.signal()
            drained.wait()
        }
        return (failure, batcher)
    }

    private func hand() {
        room.wait()
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        queue.withLock { $0.batches.append(batch) }
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            let (batches, finished) = queue.withLock { q -> ([[Item]], Bool) in
                defer { q.batches.removeAll(keepingCapacity: true) }
                return (q.batches, q.finished)
            }
            for batch in batches {
                for item in batch { apply(item) }
                room.signal()
            }
            if finished {
                drained.signal()
                return
            }
        }
    }

    private func apply(_ item: Item) {
        guard failure == nil else { return }
        do throws(LogFormatError.Reason) {
            try LogReplay.apply(item.record, number: item.number, to: state)
            batcher?.note(item.record)
        } catch {
            failure = LogFormatError(offset: item.offset, reason: error)
        }
    }
}
