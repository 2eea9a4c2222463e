import GatewayAuth

/// What one batch of operations did: the records to append, how to take
/// the changes back if the append fails, and the feed changes to send once
/// it is durable.
struct BatchEffects {
    enum Undo {
        case revocation(String, StoreState.RevocationEntry?)
        case session(String, SessionRecord?)
        case token([UInt8], TokenState?)
        case nextSeq(UInt64)
    }

    var records = LogRecordWriter()
    var undo: [Undo] = []
    private var changes: [RevocationChange] = []
    // Adjacent changes of one kind travel as one: the run being gathered.
    private var addedRun: [Revocation] = []
    private var removedRun: [String] = []

    mutating func added(_ r: Revocation) {
        flushRemoved()
        addedRun.append(r)
    }

    mutating func removed(_ id: String) {
        flushAdded()
        removedRun.append(id)
    }

    /// The feed changes of the batch, in order.
    mutating func feed() -> [RevocationChange] {
        flushAdded()
        flushRemoved()
        return changes
    }

    private mutating func flushAdded() {
        if !addedRun.isEmpty { changes.append(.added(addedRun)); addedRun = [] }
    }

    private mutating func flushRemoved() {
        if !removedRun.isEmpty { changes.append(.removed(removedRun)); removedRun = [] }
    }
}

/// The operations of `StateStore` against the in-memory state, run on the
/// writer thread. Each mutates through the setters, records its undo and
/// appends its records; none completes anything (the writer does, after
/// the fsync).
extension StoreState {
    func rollBack(_ undo: [BatchEffects.Undo]) {
        for step in undo.reversed() {
            switch step {
            case .revocation(let id, let old): setRevocation(id, old)
            case .session(let sid, let old): setSession(sid, old)
            case .token(let hash, let old): setToken(hash, old)
            case .nextSeq(let old): nextSeq = old
            }
        }
    }

    /// See `StateStore.addRevocation`. Times in seconds. An entry past its
    /// `until` (not swept yet) counts as gone: the repeat starts afresh.
    func addRevocation(_ target: Revocation.Target, until: Int64, now: Int64,
                       _ fx: inout BatchEffects) -> Revocation {
        let id = Revocation.id(for: target)
        var entry: RevocationEntry
        if let existing = revocations[id], existing.revocation.until >= now {
            guard until > existing.revocation.until else { return existing.revocation }
            entry = existing
            entry.revocation.until = until
        } else {
            fx.undo.append(.nextSeq(nextSeq))
            entry = RevocationEntry(revocation: Revocation(id: id, target: target, created: now, until: until),
                                    seq: nextSeq)
        }
        fx.undo.append(.revocation(id, setRevocation(id, entry)))
        LogRecord.revocationAdded(entry.revocation, seq: entry.seq).encode(into: &fx.records)
        fx.added(entry.revocation)
        return entry.revocation
    }

    func deleteRevocation(id: String, _ fx: inout BatchEffects) -> Bool {
        guard revocations[id] != nil else { return false }
        fx.undo.append(.revocation(id, setRevocation(id, nil)))
        LogRecord.revocationRemoved(id: id).encode(into: &fx.records)
        fx.removed(id)
        return true
    }

    /// Cursors are the decimal seq of the last entry of the previous page.
    func listRevocations(cursor: String?, limit: Int, now: Int64) -> Result<RevocationPage, StoreError> {
        var after: UInt64 = 0
        if let cursor {
            guard let seq = UInt64(cursor), seq > 0, seq < nextSeq, cursor == String(seq) else {
                return .failure(.badCursor)
            }
            after = seq
        }
        let limit = max(limit, 1)
        var items: [Revocation] = []
        var lastSeq: UInt64 = 0
        var more = false
        var i = firstSlot(after: after)
        while i < order.count {
            if let e = entry(atSlot: i), e.revocation.until >= now {
                if items.count == limit { more = true; break }
                items.append(e.revocation)
                lastSeq = e.seq
            }
            i += 1
        }
        return .success(RevocationPage(items: items, nextCursor: more ? String(lastSeq) : nil))
    }

    func startSession(_ session: SessionRecord, tokenHash: [UInt8], now: Int64, refreshTTL: Int64,
                      _ fx: inout BatchEffects) {
        fx.undo.append(.session(session.sid, setSession(session.sid, session)))
        fx.undo.append(.token(tokenHash, setToken(tokenHash, TokenState(sid: session.sid, issued: now, ttl: refreshTTL))))
        LogRecord.sessionStarted(session, firstToken: tokenHash, issued: now, ttl: refreshTTL).encode(into: &fx.records)
    }

    /// See `StateStore.rotate`. Times in milliseconds.
    func rotate(tokenHash: [UInt8], successorHash: [UInt8], now: Int64, grace: Int64, refreshTTL: Int64,
                _ fx: inout BatchEffects) -> RotateOutcome {
        guard var token = tokens[tokenHash], let session = sessions[token.sid] else { return .invalid }
        let nowSeconds = now / 1000
        let (tokenExpiry, overflow) = token.issued.addingReportingOverflow(refreshTTL)
        if !overflow && tokenExpiry < now { return .invalid }
        if session.expires < now { return .invalid }
        if sessionRevoked(session.sid, nowSeconds: nowSeconds) { return .invalid }
        if let before = subjectRevokedBefore(session.sub, nowSeconds: nowSeconds),
           Self.millis(before, isAfter: session.start) {
            return .invalid
        }
        guard let usedAt = token.usedAt else {
            token.usedAt = now
            token.successor = successorHash
            fx.undo.append(.token(tokenHash, setToken(tokenHash, token)))
            fx.undo.append(.token(successorHash, setToken(successorHash, TokenState(sid: session.sid, issued: now, ttl: refreshTTL))))
            LogRecord.tokenUsed(hash: tokenHash, usedAt: now, successor: successorHash, ttl: refreshTTL).encode(into: &fx.records)
            return .rotated(session, usedAt: now)
        }
        let (elapsed, late) = now.subtractingReportingOverflow(usedAt)
        if !late && elapsed <= grace { return .replay(session, usedAt: usedAt) }
        // Theft: someone holds a token used long ago. The whole family goes.
        _ = addRevocation(.sid(session.sid), until: Self.secondsRoundedUp(session.expires), now: nowSeconds, &fx)
        return .reuseDetected
    }

    /// See `StateStore.endSession`. `now` in milliseconds (a session
    /// operation), `fallbackUntil` in seconds.
    func endSession(_ which: SessionSelector, now: Int64, fallbackUntil: Int64,
                    _ fx: inout BatchEffects) -> String? {
        let sid: String
        switch which {
        case .sid(let s): sid = s
        case .refreshTokenHash(let hash):
            guard let t = tokens[hash] else { return nil }
            sid = t.sid
        }
        let nowSeconds = now / 1000
        let until = sessions[sid].map { Self.secondsRoundedUp($0.expires) } ?? nowSeconds + fallbackUntil
        _ = addRevocation(.sid(sid), until: until, now: nowSeconds, &fx)
        return sid
    }

    /// Unix ms -> unix s, rounded up, so the entry outlives the session.
    static func secondsRoundedUp(_ ms: Int64) -> Int64 {
        ms / 1000 + (ms % 1000 > 0 ? 1 : 0)
    }

    /// Whether `seconds` (a `before`) is later than `millis` (a session start).
    static func millis(_ seconds: Int64, isAfter millis: Int64) -> Bool {
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? seconds > 0 : ms > millis
    }
}
