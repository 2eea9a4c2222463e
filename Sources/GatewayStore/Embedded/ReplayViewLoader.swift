import Dispatch
public import GatewayAuth
import GatewayLoop
import Synchronization

/// Builds the first revocation view while the embedded store replays its
/// log (`EmbeddedStore.openLoadingView`). The replay (on the opening thread) hands its revocation changes over
/// in batches; this loader's thread hashes them into a builder meanwhile.
/// Hashing 10^6 entries is a third of start-up; on the second core it
/// overlaps the reading of the log, so the gateway serves about that much
/// sooner (it serves only once every revocation in the log is enforced).
final class ReplayViewLoader: Sendable {
    private let queue = Mutex<(changes: [RevocationChange], finished: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)
    private let drained = DispatchSemaphore(value: 0)
    /// False when no thread could be started: batches are then applied
    /// inline, on the replaying thread (slower, same result).
    private let threaded = Atomic<Bool>(false)
    /// The loader thread's alone until `finish()` returns it; then the
    /// caller's (the drained semaphore orders the two).
    nonisolated(unsafe) private let builder = RevocationViewBuilder()

    /// `expected`: about how many entries the log holds (room reserved once).
    init(expected: Int) {
        builder.beginReset(reservingCapacity: expected)
        threaded.store(OSThread.spawn(name: "gateway-view-load") { [self] in self.run() }, ordering: .releasing)
    }

    /// Takes one batch of the replay (on the replaying thread).
    func enqueue(_ change: RevocationChange) {
        guard threaded.load(ordering: .acquiring) else { return apply(change) }
        queue.withLock { $0.changes.append(change) }
        wake.signal()
    }

    /// Waits until every batch has been applied; the builder then holds the
    /// log's set, its first snapshot not yet taken.
    func finish() -> RevocationViewBuilder {
        if threaded.load(ordering: .acquiring) {
            queue.withLock { $0.finished = true }
            wake.signal()
            drained.wait()
        }
        return builder
    }

    private func run() {
        while true {
            wake.wait()
            let (changes, finished) = queue.withLock { q -> ([RevocationChange], Bool) in
                defer { q.changes.removeAll(keepingCapacity: true) }
                return (q.changes, q.finished)
            }
            for change in changes { apply(change) }
            if finished {
                drained.signal()
                return
            }
        }
    }

    private func apply(_ change: RevocationChange) {
        switch change {
        case .reset(let all):
            builder.beginReset(reservingCapacity: all.count)
            builder.load(added: all)
        case .added(let entries): builder.load(added: entries)
        case .removed(let ids): builder.load(removedIDs: ids)
        }
    }
}

extension EmbeddedStore {
    /// Opens the store as `init` does, and builds the revocation set of its
    /// log into a view builder on a second thread while the log is read.
    /// The store's feed then begins without a `.reset` (see `replayed:`):
    /// the builder already holds that set, its first snapshot the view to
    /// serve with.
    public static func openLoadingView(directory: String, options: Options = Options(),
                                       log: @escaping @Sendable (String) -> Void)
        throws(StoreError) -> (store: EmbeddedStore, view: RevocationViewBuilder) {
        let loader = ReplayViewLoader(expected: EmbeddedStore.expectedRevocations(directory: directory))
        let store: EmbeddedStore
        do {
            store = try EmbeddedStore(directory: directory, options: options, log: log,
                                      replayed: { loader.enqueue($0) })
        } catch {
            _ = loader.finish()
            throw error
        }
        return (store, loader.finish())
    }
}
