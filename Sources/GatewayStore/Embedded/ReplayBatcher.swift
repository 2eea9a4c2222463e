import GatewayAuth

/// Hands the revocation changes of a log being replayed to a caller, in log
/// order, in batches: what lets the gateway build its revocation view on a
/// second core while the log is still being read (start-up with 10^6
/// entries: the view's hashing no longer waits for the whole replay).
///
/// Consecutive adds go out as one `.added`, consecutive removals as one
/// `.removed`; a batch goes out when it is full or the kind changes, and
/// `flush` sends the rest. Applied in order, the batches leave exactly the
/// set the replay left in the store.
struct ReplayBatcher {
    static let batchSize = 4096

    private let send: @Sendable (RevocationChange) -> Void
    private var added: [Revocation] = []
    private var removed: [String] = []

    init(_ send: @escaping @Sendable (RevocationChange) -> Void) {
        self.send = send
    }

    /// Notes one record the replay applied; records of sessions are not revocations and pass.
    mutating func note(_ record: LogRecord) {
        switch record {
        case .revocationAdded(let r, _):
            if !removed.isEmpty { flush() }
            added.append(r)
            if added.count >= Self.batchSize { flush() }
        case .revocationRemoved(let id):
            if !added.isEmpty { flush() }
            removed.append(id)
            if removed.count >= Self.batchSize { flush() }
        case .sessionKey, .sessionStarted, .tokenUsed, .tokenState:
            break
        }
    }

    mutating func flush() {
        if !added.isEmpty {
            send(.added(added))
            added.removeAll(keepingCapacity: true)
        }
        if !removed.isEmpty {
            send(.removed(removed))
            removed.removeAll(keepingCapacity: true)
        }
    }
}
