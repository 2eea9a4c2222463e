import GatewayAuth
import GatewayCore
import GatewayLoop
import GatewayStore
import Dispatch
import Synchronization

/// The stateful half (SPEC §7) as the proxy holds it: the store, its
/// metrics, and the revocation view every worker checks.
///
/// The store's feed only queues each change (it runs on the store's thread,
/// which must go back to committing). A thread of its own,
/// `gateway-view`, takes every change queued since its last round, applies
/// them to a `RevocationViewBuilder` and posts the one new immutable
/// `RevocationView` to every worker: a burst of 10,000 revocations costs a
/// few snapshots, not 10,000. Workers swap their reference between
/// requests; the request path reads the view with no lock and no I/O, the
/// way key sets are swapped. With the embedded store the first view was
/// built while its log was replayed (`EmbeddedStore.openLoadingView`).
final class StateRuntime: Sendable {
    let store: any StateStore
    let metrics = StateMetrics()
    private let pending = Mutex<[RevocationChange]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let firstView = DispatchSemaphore(value: 0)

    /// The embedded store's replayed set, loaded while its log was read;
    /// nil for Redis, whose feed begins with a `.reset`. The view thread's
    /// once it starts.
    nonisolated(unsafe) private let replayedView: RevocationViewBuilder?

    init(store: any StateStore, replayedView: RevocationViewBuilder? = nil) {
        self.store = store
        self.replayedView = replayedView
    }

    /// The store the configuration names, opened: Redis when `[store] redis`
    /// is set, else the embedded log under `state_dir`. Nil when the
    /// configuration has neither `[store]` nor `[sessions]`: a stateless
    /// gateway keeps no state directory (read-only root file systems stay
    /// possible) and has no revocation API.
    static func open(_ config: GatewayConfig, environment: [String: String]) throws(StoreError) -> StateRuntime? {
        guard config.hasStore || config.sessions != nil else { return nil }
        let log: @Sendable (String) -> Void = { OpsLog.warning("store: \($0)") }
        if let url = config.store.redis {
            let password = config.store.redisPasswordEnv.flatMap { environment[$0] }
            return StateRuntime(store: try RedisStore(url: url, password: password, prefix: config.store.redisPrefix,
                                                      log: log))
        }
        // The first view is built on a second thread while the log is replayed.
        let (store, view) = try EmbeddedStore.openLoadingView(directory: config.store.stateDir, log: log)
        return StateRuntime(store: store, replayedView: view)
    }

    /// Starts the store and the view thread; every view goes to every worker.
    func start(workers: [Worker]) {
        OSThread.spawn(name: "gateway-view") { [self] in self.publishViews(to: workers) }
        store.start { [self] change in
            self.pending.withLock { $0.append(change) }
            self.wake.signal()
        }
    }

    private func publishViews(to workers: [Worker]) {
        let builder = replayedView ?? RevocationViewBuilder()
        var published = false
        if replayedView != nil {
            publish(builder.snapshot(), to: workers)
            published = true
            firstView.signal()
        }
        while true {
            wake.wait()
            let changes = pending.withLock { q -> [RevocationChange] in
                let taken = q
                q.removeAll(keepingCapacity: true)
                return taken
            }
            if changes.isEmpty { continue }
            for change in changes {
                switch change {
                case .reset(let all): builder.reset(all)
                case .added(let entries): builder.add(entries)
                case .removed(let ids): builder.remove(ids: ids)
                }
            }
            publish(builder.snapshot(), to: workers)
            if !published {
                published = true
                firstView.signal()
            }
        }
    }

    private func publish(_ view: RevocationView, to workers: [Worker]) {
        metrics.setRevocations(view.counts.map { (kind: $0.kind.rawValue, count: $0.count) })
        for w in workers { w.loop.post { w.applyRevocations(view) } }
    }

    /// Blocks until the first view has been posted to the workers: the
    /// embedded store's whole log is local, so the gateway starts serving
    /// only once every revocation in it is enforced. (With Redis the wait
    /// would be unbounded while Redis is down; workers refuse authenticated
    /// requests with 503 until the first view instead.)
    func waitForFirstView() {
        firstView.wait()
        firstView.signal()
    }
}
