import GatewayAuth
import GatewayStore
import Synchronization

/// Runs completions on the thread that posts them (the store's), right away.
struct InlineExecutor: CompletionExecutor {
    func post(_ work: @escaping @Sendable () -> Void) { work() }
}

/// Everything a store's feed delivered, in order (both stores' tests).
final class FeedRecorder: Sendable {
    private let changes = Mutex<[RevocationChange]>([])

    func append(_ change: RevocationChange) { changes.withLock { $0.append(change) } }

    var callback: @Sendable (RevocationChange) -> Void {
        { [self] change in append(change) }
    }

    var all: [RevocationChange] { changes.withLock { $0 } }

    var resetCount: Int {
        all.reduce(0) { n, c in if case .reset = c { return n + 1 }; return n }
    }

    var addedIDs: [String] {
        all.flatMap { change -> [String] in
            if case .added(let rs) = change { return rs.map(\.id) }
            return []
        }
    }

    var removedIDs: [String] {
        all.flatMap { change -> [String] in
            if case .removed(let ids) = change { return ids }
            return []
        }
    }

    /// The live set as a consumer applying the feed would hold it.
    var view: [String: Revocation] {
        var v: [String: Revocation] = [:]
        for c in all {
            switch c {
            case .reset(let items): v = Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            case .added(let items): for r in items { v[r.id] = r }
            case .removed(let ids): for id in ids { v[id] = nil }
            }
        }
        return v
    }
}
