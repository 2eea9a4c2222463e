/// Turns the store's feed (`reset`, `add`, `remove`) into `RevocationView`s.
/// Owned by one thread, the store's; the views it makes are what crosses
/// threads.
///
/// A new view after every small change must be cheap at 10^6 entries, so the
/// builder keeps a big base (rebuilt rarely) and a small delta (rebuilt for
/// every view, from entries hashed once when they were added). The base is
/// rebuilt when the delta outgrows max(4096, base / 8) entries, after a
/// `reset`, and when an entry that is in the base is removed or narrowed
/// (removals are rare: admin DELETE and expiry sweeps). Amortized, an add
/// costs a few base rebuilds' worth of work per base / 8 adds.
public final class RevocationViewBuilder {
    /// Where an entry's current version is in the tables.
    private enum Place {
        case base
        case delta
        /// In the delta, and an older version it subsumes is still in the
        /// base: harmless while the entry lives, stale once it is removed.
        case deltaOverBase
    }

    /// An entry as hashed once when it came: what a rebuild needs (the
    /// strings are not kept; the keys are this process's, as the views are).
    private struct Record {
        var kind: RevocationView.Kind
        var entry: RevocationTable.Entry
        var place: Place
    }

    /// Every entry, by the 128-bit keyed hash of its id (the ids themselves
    /// are not kept: at 10^6 entries the strings alone would cost far more
    /// than the view): what a base rebuild reads.
    private var records: [RevocationKey: Record] = [:]
    /// The ids of the entries in the delta, hashed likewise.
    private var deltaIDs: Set<RevocationKey> = []
    private var base = RevocationTables.empty
    /// Entries in the base when it was built: the delta's limit.
    private var baseSize = 0
    /// The base holds an entry that was removed or narrowed.
    private var baseIsStale = false
    private var kindCounts = KindCounts()
    /// The last view, until the next change.
    private var current: RevocationView? = RevocationView.empty

    /// Base rebuilds so far (for tests and the bench).
    public private(set) var baseRebuilds = 0

    public init() {}

    /// Entries held, every kind.
    public var count: Int { records.count }

    /// Entries waiting in the delta.
    public var deltaCount: Int { deltaIDs.count }

    /// The whole set: replaces everything held.
    public func reset(_ revocations: [Revocation]) {
        beginReset(reservingCapacity: revocations.count)
        load(added: revocations)
    }

    /// Starts a reset whose entries arrive in pieces, in the order a log
    /// holds them (`load(added:)`, `load(removedIDs:)`): what a replay on
    /// another thread hands over while it still reads. Everything held is
    /// dropped; the next `snapshot()` builds the base from what is loaded.
    public func beginReset(reservingCapacity expected: Int = 0) {
        records.removeAll(keepingCapacity: true)
        records.reserveCapacity(expected)
        deltaIDs.removeAll()
        kindCounts = KindCounts()
        current = nil
        // Straight into the next base, which the stale flag rebuilds: no delta bookkeeping.
        baseIsStale = true
    }

    /// Part of a reset (after `beginReset`): entries added or replaced, by id.
    public func load(added revocations: [Revocation]) {
        current = nil
        baseIsStale = true
        for revocation in revocations {
            let record = Self.record(revocation, place: .base)
            if let old = records.updateValue(record, forKey: RevocationKey.of(revocation.id)) {
                kindCounts[old.kind] -= 1
            }
            kindCounts[record.kind] += 1
        }
    }

    /// Part of a reset (after `beginReset`): entries lifted, by id.
    public func load(removedIDs ids: [String]) {
        current = nil
        baseIsStale = true
        for text in ids {
            if let old = records.removeValue(forKey: RevocationKey.of(text)) { kindCounts[old.kind] -= 1 }
        }
    }

    /// Adds entries; an entry with the id of one held replaces it.
    public func add(_ revocations: [Revocation]) {
        guard !revocations.isEmpty else { return }
        current = nil
        for revocation in revocations {
            var record = Self.record(revocation, place: .delta)
            let (kind, entry) = (record.kind, record.entry)
            let id = RevocationKey.of(revocation.id)
            if let old = records[id] {
                kindCounts[old.kind] -= 1
                let subsumes = old.kind == kind && old.entry.key == entry.key && entry.until >= old.entry.until
                    && (kind != .sub || entry.before >= old.entry.before)
                switch old.place {
                case .delta:
                    break
                case .base, .deltaOverBase:
                    // The base keeps the old version; harmless only if the new one covers it.
                    if subsumes { record.place = .deltaOverBase } else { baseIsStale = true }
                }
            }
            records[id] = record
            deltaIDs.insert(id)
            kindCounts[kind] += 1
        }
    }

    /// The entry hashed once, here.
    private static func record(_ revocation: Revocation, place: Place) -> Record {
        var before: Int64 = 0
        if case .subject(_, let b) = revocation.target { before = b }
        return Record(kind: RevocationView.Kind(revocation.target),
                      entry: RevocationTable.Entry(key: RevocationKey.of(revocation.target.value),
                                                   until: revocation.until, before: before),
                      place: place)
    }

    /// Lifts entries by id; unknown ids are ignored.
    public func remove(ids: [String]) {
        for text in ids {
            let id = RevocationKey.of(text)
            guard let old = records.removeValue(forKey: id) else { continue }
            current = nil
            kindCounts[old.kind] -= 1
            switch old.place {
            case .delta:
                deltaIDs.remove(id)
            case .deltaOverBase:
                deltaIDs.remove(id)
                baseIsStale = true
            case .base:
                baseIsStale = true
            }
        }
    }

    /// The view of everything held. Shares the base with the previous view
    /// unless the base had to be rebuilt; the same view again when nothing
    /// changed since.
    public func snapshot() -> RevocationView {
        if let current { return current }
        if baseIsStale || deltaIDs.count > max(4096, baseSize / 8) { rebuildBase() }
        var jti: [RevocationTable.Entry] = [], sid: [RevocationTable.Entry] = [], sub: [RevocationTable.Entry] = []
        for id in deltaIDs {
            guard let record = records[id] else { continue }
            switch record.kind {
            case .jti: jti.append(record.entry)
            case .sid: sid.append(record.entry)
            case .sub: sub.append(record.entry)
            }
        }
        let delta = RevocationTables(jti: RevocationTable(entries: jti, withBefore: false),
                                     sid: RevocationTable(entries: sid, withBefore: false),
                                     sub: RevocationTable(entries: sub, withBefore: true))
        let view = RevocationView(base: base, delta: delta, jtiCount: kindCounts[.jti],
                                  sidCount: kindCounts[.sid], subCount: kindCounts[.sub])
        current = view
        return view
    }

    /// Every entry into a new base; the delta empties.
    private func rebuildBase() {
        var jti: [RevocationTable.Entry] = [], sid: [RevocationTable.Entry] = [], sub: [RevocationTable.Entry] = []
        jti.reserveCapacity(kindCounts[.jti])
        sid.reserveCapacity(kindCounts[.sid])
        sub.reserveCapacity(kindCounts[.sub])
        // By index, writing `place` in place: a `for in` over `records` would copy it.
        var index = records.startIndex
        while index != records.endIndex {
            let record = records.values[index]
            switch record.kind {
            case .jti: jti.append(record.entry)
            case .sid: sid.append(record.entry)
            case .sub: sub.append(record.entry)
            }
            if record.place != .base { records.values[index].place = .base }
            records.formIndex(after: &index)
        }
        base = RevocationTables(jti: RevocationTable(entries: jti, withBefore: false),
                                sid: RevocationTable(entries: sid, withBefore: false),
                                sub: RevocationTable(entries: sub, withBefore: true))
        baseSize = records.count
        deltaIDs.removeAll()
        baseIsStale = false
        baseRebuilds += 1
    }
}

/// Entries per kind: three counters, not a dictionary (a reset at 10^6
/// entries updated one a million times).
private struct KindCounts {
    private var jti = 0, sid = 0, sub = 0

    subscript(kind: RevocationView.Kind) -> Int {
        get {
            switch kind {
            case .jti: jti
            case .sid: sid
            case .sub: sub
            }
        }
        set {
            switch kind {
            case .jti: jti = newValue
            case .sid: sid = newValue
            case .sub: sub = newValue
            }
        }
    }
}
