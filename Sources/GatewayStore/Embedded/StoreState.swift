import GatewayAuth

/// The embedded store's whole state in memory: what replaying the log
/// yields and what every operation reads. Owned by one thread at a time
/// (the opener during replay, then the writer thread); not thread-safe.
///
/// Every change goes through one of three setters, which keep the indexes
/// and the live-size estimate right and return the previous value: that
/// value is the undo information of a failed batch.
final class StoreState {
    struct RevocationEntry: Equatable {
        var revocation: Revocation
        /// Order of creation: listing order and the cursor.
        var seq: UInt64
    }

    private(set) var revocations: [String: RevocationEntry] = [:]
    /// (seq, id) in ascending seq. Slots whose entry was deleted or
    /// re-created under a new seq stay until `compactOrder` and are skipped.
    private(set) var order: [(seq: UInt64, id: String)] = []
    private var staleSlots = 0
    /// sid -> id of its `sid` revocation.
    private(set) var revokedSessions: [String: String] = [:]
    /// sub -> (id -> before) of its `sub` revocations.
    private(set) var subjectRevocations: [String: [String: Int64]] = [:]
    private(set) var sessions: [String: SessionRecord] = [:]
    private(set) var tokens: [[UInt8]: TokenState] = [:]
    var nextSeq: UInt64 = 1
    var sessionKey: [UInt8]?
    /// About the bytes a compacted log of this state would take.
    private(set) var liveBytes = LogFormat.headerSize + 50

    init(expectedRevocations: Int = 0) {
        if expectedRevocations > 0 {
            revocations.reserveCapacity(expectedRevocations)
            order.reserveCapacity(expectedRevocations)
        }
    }

    // MARK: setters

    @discardableResult
    func setRevocation(_ id: String, _ entry: RevocationEntry?) -> RevocationEntry? {
        let old: RevocationEntry?
        if let entry {
            old = revocations.updateValue(entry, forKey: id)
        } else {
            old = revocations.removeValue(forKey: id)
        }
        if let old {
            liveBytes -= Self.size(of: old.revocation)
            switch old.revocation.target {
            case .sid(let sid): revokedSessions[sid] = nil
            case .subject(let sub, _):
                subjectRevocations[sub]?[id] = nil
                if subjectRevocations[sub]?.isEmpty == true { subjectRevocations[sub] = nil }
            case .jti: break
            }
            if entry?.seq != old.seq { staleSlots += 1 }
        }
        if let entry {
            liveBytes += Self.size(of: entry.revocation)
            switch entry.revocation.target {
            case .sid(let sid): revokedSessions[sid] = id
            case .subject(let sub, let before): subjectRevocations[sub, default: [:]][id] = before
            case .jti: break
            }
            if old?.seq != entry.seq { insertSlot(seq: entry.seq, id: id) }
            // The decoder keeps seq below UInt64.max / 2: no overflow.
            if entry.seq >= nextSeq { nextSeq = entry.seq + 1 }
        }
        return old
    }

    @discardableResult
    func setSession(_ sid: String, _ session: SessionRecord?) -> SessionRecord? {
        let old = session.map { sessions.updateValue($0, forKey: sid) } ?? sessions.removeValue(forKey: sid)
        if let old { liveBytes -= Self.size(of: old) }
        if let session { liveBytes += Self.size(of: session) }
        return old
    }

    @discardableResult
    func setToken(_ hash: [UInt8], _ token: TokenState?) -> TokenState? {
        let old = token.map { tokens.updateValue($0, forKey: hash) } ?? tokens.removeValue(forKey: hash)
        if let old { liveBytes -= Self.size(of: old, hash: hash) }
        if let token { liveBytes += Self.size(of: token, hash: hash) }
        return old
    }

    private func insertSlot(seq: UInt64, id: String) {
        if let last = order.last, last.seq >= seq {
            // Only a restored entry (undo) or an odd log lands here.
            let at = firstSlot(notBefore: seq)
            if at < order.count, order[at].seq == seq { order[at].id = id; return }
            order.insert((seq, id), at: at)
        } else {
            order.append((seq, id))
        }
    }

    /// Index of the first slot with seq > `seq`.
    func firstSlot(after seq: UInt64) -> Int {
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if order[mid].seq <= seq { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Index of the first slot with seq >= `seq`.
    private func firstSlot(notBefore seq: UInt64) -> Int {
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if order[mid].seq < seq { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Drops stale order slots once they are many. Only between batches:
    /// an undo may need the slot of the entry it restores.
    func compactOrder() {
        guard staleSlots > 1024, staleSlots > order.count / 2 else { return }
        order.removeAll { slot in revocations[slot.id]?.seq != slot.seq }
        staleSlots = 0
    }

    // MARK: queries

    /// The live entry at order slot `i`, or nil when the slot is stale.
    func entry(atSlot i: Int) -> RevocationEntry? {
        let slot = order[i]
        guard let e = revocations[slot.id], e.seq == slot.seq else { return nil }
        return e
    }

    /// The session's `sid` revocation, when one is live at `nowSeconds`.
    func sessionRevoked(_ sid: String, nowSeconds: Int64) -> Bool {
        guard let id = revokedSessions[sid], let e = revocations[id] else { return false }
        return e.revocation.until >= nowSeconds
    }

    /// The latest `before` of the live `sub` revocations of `sub`.
    func subjectRevokedBefore(_ sub: String, nowSeconds: Int64) -> Int64? {
        guard let ids = subjectRevocations[sub] else { return nil }
        var latest: Int64?
        for (id, before) in ids {
            guard let e = revocations[id], e.revocation.until >= nowSeconds else { continue }
            latest = max(latest ?? before, before)
        }
        return latest
    }

    // MARK: replay

    /// Applies one record read back from the log.
    func apply(_ record: LogRecord) throws(LogFormatError.Reason) {
        switch record {
        case .sessionKey(let key):
            guard sessionKey == nil else { throw .malformed("second session key") }
            sessionKey = key
        case .revocationAdded(let r, let seq):
            setRevocation(r.id, RevocationEntry(revocation: r, seq: seq))
        case .revocationRemoved(let id):
            setRevocation(id, nil)
        case .sessionStarted(let s, let first, let issued, let ttl):
            setSession(s.sid, s)
            if !first.isEmpty { setToken(first, TokenState(sid: s.sid, issued: issued, ttl: ttl)) }
        case .tokenUsed(let hash, let usedAt, let successor, let ttl):
            // A token dropped by the sweep before a compaction leaves no
            // trace; its use record went with it, so this one is known.
            guard var t = tokens[hash] else { return }
            t.usedAt = usedAt
            t.successor = successor
            setToken(hash, t)
            setToken(successor, TokenState(sid: t.sid, issued: usedAt, ttl: ttl))
        case .tokenState(let hash, let t):
            setToken(hash, t)
        }
    }

    // MARK: expiry

    /// Drops revocations past `until`, sessions past `expires`, tokens past
    /// their TTL or of a dropped session. Returns the dropped revocation ids.
    /// Nothing is logged: replay drops the same entries by the same rule.
    func sweep(nowMillis: Int64) -> [String] {
        let nowSeconds = nowMillis / 1000
        var dropped: [String] = []
        for (id, e) in revocations where e.revocation.until < nowSeconds { dropped.append(id) }
        for id in dropped { setRevocation(id, nil) }
        let endedSessions = sessions.compactMap { $0.value.expires < nowMillis ? $0.key : nil }
        for sid in endedSessions { setSession(sid, nil) }
        let endedTokens = tokens.compactMap { (hash, t) in
            t.expiresAt < nowMillis || sessions[t.sid] == nil ? hash : nil
        }
        for hash in endedTokens { setToken(hash, nil) }
        compactOrder()
        return dropped
    }

    /// The live revocations, in no particular order: the feed's `.reset`
    /// builds a view, which has none, and at 10^6 entries a sort by seq
    /// cost a third of a second of start-up.
    func liveRevocations() -> [Revocation] {
        revocations.values.map(\.revocation)
    }

    // MARK: compaction

    /// The whole state as a log: header, key, revocations in seq order,
    /// sessions, tokens.
    func snapshot() -> [UInt8] {
        var w = LogRecordWriter(reservingCapacity: liveBytes + 4096)
        w.bytes.append(contentsOf: LogFormat.header)
        if let sessionKey { LogRecord.sessionKey(sessionKey).encode(into: &w) }
        for i in order.indices {
            if let e = entry(atSlot: i) { LogRecord.revocationAdded(e.revocation, seq: e.seq).encode(into: &w) }
        }
        for s in sessions.values {
            LogRecord.sessionStarted(s, firstToken: [], issued: 0, ttl: 0).encode(into: &w)
        }
        for (hash, t) in tokens { LogRecord.tokenState(hash: hash, t).encode(into: &w) }
        return w.bytes
    }

    // Sizes of the records `snapshot` writes (frame + version + type + fields).
    private static func size(of r: Revocation) -> Int {
        8 + 2 + 4 + r.id.utf8.count + 1 + 4 + r.target.value.utf8.count + 32
    }

    private static func size(of s: SessionRecord) -> Int {
        8 + 2 + 4 + s.sid.utf8.count + 4 + s.sub.utf8.count + 4 + s.claims.count + 16 + 4 + 16
    }

    private static func size(of t: TokenState, hash: [UInt8]) -> Int {
        8 + 2 + 4 + hash.count + 4 + t.sid.utf8.count + 25 + 4 + (t.successor?.count ?? 0)
    }
}
