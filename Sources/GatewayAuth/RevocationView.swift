/// The local revocation view of SPEC §7: every verified token is checked
/// against it on the request path, with no lock, no I/O and no allocation.
/// Immutable once built (by `RevocationViewBuilder`, on the store's thread)
/// and shared by every worker; a change publishes a new view.
///
/// A view is a big base plus a small delta, each three tables (one per
/// kind); a token is revoked when either matches. Consecutive views share
/// the base, so a view after one small change costs only its delta.
public final class RevocationView: Sendable {
    /// The kinds of SPEC §7, spelled as `Revocation.Target.kind` and the
    /// `gateway_revocations{kind}` label.
    public enum Kind: String, CaseIterable, Sendable {
        case jti, sid, sub
    }

    let base: RevocationTables
    let delta: RevocationTables
    private let jtiCount: Int, sidCount: Int, subCount: Int

    init(base: RevocationTables, delta: RevocationTables, jtiCount: Int, sidCount: Int, subCount: Int) {
        self.base = base
        self.delta = delta
        self.jtiCount = jtiCount
        self.sidCount = sidCount
        self.subCount = subCount
    }

    /// No entries: what a worker checks against before the store's first feed.
    public static let empty = RevocationView(base: .empty, delta: .empty, jtiCount: 0, sidCount: 0, subCount: 0)

    /// True when a live entry (`until >= now`) names the token's `jti`, its
    /// `sid`, or its `sub` with `iat < before`. A token without `iat` whose
    /// `sub` has an entry counts as revoked: it cannot show it was issued after.
    public func revokes(_ token: VerifiedToken, now: Int64) -> Bool {
        revokes(jti: token.jti, sid: token.sid, sub: token.sub, iat: token.iat, now: now)
    }

    /// The same check on the claims alone; a nil claim matches nothing.
    ///
    /// At 10^6 entries each table walk begins with a cache (and TLB) miss,
    /// so the walks are started together: every claim's `hi` hashed, then
    /// the first slot of each of the six tables read, then the walks
    /// finished; the misses overlap instead of queueing. The second half of
    /// a key (`lo`) is hashed only when a walk finds its `hi`: a token not
    /// in the set (almost every token) costs three hashes, not six.
    public func revokes(jti: String?, sid: String?, sub: String?, iat: Int64?, now: Int64) -> Bool {
        // A kind with no entries costs no hashing: most deployments use one or two kinds.
        let jtiHi = jti.flatMap { base.jti.hasEntries || delta.jti.hasEntries ? RevocationKey.hi(of: $0) : nil }
        let sidHi = sid.flatMap { base.sid.hasEntries || delta.sid.hasEntries ? RevocationKey.hi(of: $0) : nil }
        let subHi = sub.flatMap { base.sub.hasEntries || delta.sub.hasEntries ? RevocationKey.hi(of: $0) : nil }
        let walks = (jtiHi.map { (base.jti.start($0), delta.jti.start($0)) },
                     sidHi.map { (base.sid.start($0), delta.sid.start($0)) },
                     subHi.map { (base.sub.start($0), delta.sub.start($0)) })
        if let jti, let jtiHi, let (inBase, inDelta) = walks.0,
           Self.check(jti, jtiHi, base.jti, inBase, delta.jti, inDelta, now: now, iat: nil) {
            return true
        }
        if let sid, let sidHi, let (inBase, inDelta) = walks.1,
           Self.check(sid, sidHi, base.sid, inBase, delta.sid, inDelta, now: now, iat: nil) {
            return true
        }
        if let sub, let subHi, let (inBase, inDelta) = walks.2,
           Self.check(sub, subHi, base.sub, inBase, delta.sub, inDelta, now: now, iat: iat) {
            return true
        }
        return false
    }

    /// One claim against one kind's base and delta, from walks already started.
    @inline(__always)
    private static func check(_ value: String, _ hi: UInt64, _ base: RevocationTable, _ inBase: RevocationTable.Walk,
                              _ delta: RevocationTable, _ inDelta: RevocationTable.Walk,
                              now: Int64, iat: Int64?) -> Bool {
        let baseRun = base.run(of: hi, from: inBase)
        let deltaRun = delta.run(of: hi, from: inDelta)
        if baseRun == nil && deltaRun == nil { return false }
        let key = RevocationKey(hi: hi, lo: RevocationKey.lo(of: value))
        if let baseRun, base.matches(key, inRunAt: baseRun, now: now, iat: iat) { return true }
        if let deltaRun, delta.matches(key, inRunAt: deltaRun, now: now, iat: iat) { return true }
        return false
    }

    /// Entries of one kind the builder holds (live or not yet swept): the
    /// `gateway_revocations{kind}` gauge.
    public func count(kind: Kind) -> Int {
        switch kind {
        case .jti: return jtiCount
        case .sid: return sidCount
        case .sub: return subCount
        }
    }

    /// Every kind with its count, in `Kind.allCases` order.
    public var counts: [(kind: Kind, count: Int)] { Kind.allCases.map { ($0, count(kind: $0)) } }

    /// Bytes of this view's tables (base and delta); a view that shares its
    /// base with the previous one adds only the delta's part.
    public var tableBytes: Int { base.bytes + delta.bytes }

    /// Bytes of the delta's tables alone.
    public var deltaTableBytes: Int { delta.bytes }
}

extension RevocationView.Kind {
    init(_ target: Revocation.Target) {
        switch target {
        case .jti: self = .jti
        case .sid: self = .sid
        case .subject: self = .sub
        }
    }
}

/// A jti, sid or sub as the view stores it: 128 bits of keyed hash, never
/// the string (10^6 strings would cost ~100 MiB per view).
///
/// Why a hash is enough: the two halves are SipHash-1-3 under two
/// independent 128-bit keys drawn per process from the DRBG, so for anyone
/// without the keys the 128 bits are random. A token is wrongly taken as
/// revoked only if one of its three claims hashes to exactly the 128 bits of
/// an entry of that kind: at most 3 · 10^6 · 2^-128 ≈ 10^-32 per request,
/// ~10^-16 after 10^16 requests. Clients cannot aim at a collision: the keys
/// never leave the process (the only output is one bit, revoked or not, for
/// a token whose claims the issuer signed, so the client does not even pick
/// them). A revoked value always hashes to its entry: no false negatives.
/// Walks compare `hi` alone; an equal `hi` (2^-64 a slot) only costs the
/// hash of `lo`, which must match too.
struct RevocationKey: Hashable, Sendable {
    /// At most `UInt64.max - 1`: `UInt64.max` marks an empty slot.
    let hi: UInt64
    let lo: UInt64

    /// `hi` as `hi(of:)` gives it.
    init(hi: UInt64, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    static func of(_ value: String) -> RevocationKey { RevocationKey(hi: hi(of: value), lo: lo(of: value)) }

    /// The first half, on its own: what a walk compares. Clamped below
    /// `UInt64.max` (a 2^-64 event, and still a 128-bit key).
    static func hi(of value: String) -> UInt64 { min(hash(value, key: processKeys.hi), UInt64.max - 1) }

    /// The second half, hashed only when the first matches.
    static func lo(of value: String) -> UInt64 { hash(value, key: processKeys.lo) }

    /// SipHash-1-3 of a string's UTF-8 bytes, hashed in place: native
    /// strings lend their buffer; small strings (up to 15 bytes, stored
    /// inline, which `withContiguousStorageIfAvailable` refuses) go through
    /// `withUTF8`, which reads them from the stack. No allocation either
    /// way, and this runs for every claim of every request.
    private static func hash(_ value: String, key: (UInt64, UInt64)) -> UInt64 {
        // Native strings: their own buffer, no copy of the String value.
        if let h = value.utf8.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0), key: key) }) {
            return h
        }
        var text = value
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0), key: key) }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer, key: (UInt64, UInt64)) -> UInt64 {
        SipHash.hash(bytes, key: key, compressionRounds: 1, finalizationRounds: 3)
    }

    /// Two keys, drawn once, independent of `TokenHash.processKey`; from the
    /// system generator (getrandom, as strong) if the DRBG cannot be seeded.
    static let processKeys: (hi: (UInt64, UInt64), lo: (UInt64, UInt64)) = {
        var words = [UInt64](repeating: 0, count: 4)
        if let bytes = try? SecureRandom.bytes(32) {
            for i in 0..<4 {
                words[i] = bytes[i * 8..<i * 8 + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
            }
        } else {
            OpenSSLError.clearQueue()
            var system = SystemRandomNumberGenerator()
            for i in 0..<4 { words[i] = system.next() }
        }
        return ((words[0], words[1]), (words[2], words[3]))
    }()
}

/// The three tables of a base or a delta.
struct RevocationTables: Sendable {
    let jti: RevocationTable
    let sid: RevocationTable
    let sub: RevocationTable

    static let empty = RevocationTables(jti: .empty, sid: .empty, sub: .empty)

    var bytes: Int { jti.bytes + sid.bytes + sub.bytes }
    var entryCount: Int { jti.entryCount + sid.entryCount + sub.entryCount }
}

/// One kind's entries in a flat, immutable open-addressing table.
///
/// Layout: `slots` holds the 128-bit keys in ascending order (an ordered
/// linear-probing table, Amble & Knuth 1974): each entry sits at its home
/// `hi * homes >> 64` (a multiply, no division, and monotonic in `hi`) or
/// just after the entry before it. So a lookup walks forward from its home
/// past smaller keys and stops at the first larger key or empty slot: misses
/// stop as early as hits, ~3 slots (72 bytes, one or two cache lines) at the
/// 0.8 load used here. No wrap-around: the array runs past `homes` as far as
/// the last entry, then one empty slot ends every walk.
///
/// A slot is the key and its `until` (24 bytes): a hit costs no second
/// miss. `befores` (subject table only) is read only when a key matches.
/// Entries with the same key (a `sub` with several `before`s) sit side by
/// side and are all checked.
final class RevocationTable: Sendable {
    struct Slot: Sendable {
        var hi: UInt64
        var lo: UInt64
        var until: Int64
        static let empty = Slot(hi: .max, lo: .max, until: .min)
    }

    /// What the builder hands in for one entry.
    struct Entry: Sendable {
        var key: RevocationKey
        var until: Int64
        /// Subject entries only; ignored elsewhere.
        var before: Int64
    }

    let slots: ContiguousArray<Slot>
    /// Empty unless the table holds subject entries.
    let befores: ContiguousArray<Int64>
    let homes: UInt64
    let entryCount: Int

    static let empty = RevocationTable(entries: [], withBefore: false)

    /// Entries need not be sorted or unique.
    init(entries: [Entry], withBefore: Bool) {
        let count = entries.count
        // 1.25 homes an entry: load 0.8.
        let homes = UInt64(count + (count + 3) / 4)
        let sorted = Self.sortedByHome(entries, homes: homes)
        var positions = [Int](repeating: 0, count: count)
        var next = 0
        for i in 0..<count {
            let home = Int(truncatingIfNeeded: sorted[i].key.hi.multipliedFullWidth(by: homes).high)
            positions[i] = max(home, next)
            next = positions[i] + 1
        }
        // One empty slot past the last entry (and past every home) ends each walk.
        let length = max(Int(homes), next) + 1
        var slots = ContiguousArray(repeating: Slot.empty, count: length)
        var befores = ContiguousArray<Int64>(repeating: 0, count: withBefore ? length : 0)
        for i in 0..<count {
            let p = positions[i]
            slots[p] = Slot(hi: sorted[i].key.hi, lo: sorted[i].key.lo, until: sorted[i].until)
            if withBefore { befores[p] = sorted[i].before }
        }
        self.slots = slots
        self.befores = befores
        self.homes = homes
        self.entryCount = count
    }

    /// `entries` in ascending (hi, lo) order. The home is monotonic in `hi`
    /// and the keys are uniform, so a counting sort by home does nearly all
    /// of it in linear time; only the few entries sharing a home (0.8 an
    /// entry on average) are then put in order among themselves. At 10^6
    /// entries a comparison sort cost a sixth of the gateway's start-up.
    private static func sortedByHome(_ entries: [Entry], homes: UInt64) -> [Entry] {
        guard let first = entries.first else { return [] }
        func home(_ e: Entry) -> Int { Int(truncatingIfNeeded: e.key.hi.multipliedFullWidth(by: homes).high) }
        // begin[h]: where home h's entries start; begin[homes] = count.
        var begin = [Int](repeating: 0, count: Int(homes) + 1)
        for e in entries { begin[home(e) + 1] += 1 }
        for h in 0..<Int(homes) { begin[h + 1] += begin[h] }
        var sorted = [Entry](repeating: first, count: entries.count)
        var fill = begin
        for e in entries {
            let h = home(e)
            sorted[fill[h]] = e
            fill[h] += 1
        }
        func less(_ a: Entry, _ b: Entry) -> Bool {
            a.key.hi != b.key.hi ? a.key.hi < b.key.hi : a.key.lo < b.key.lo
        }
        for h in 0..<Int(homes) where begin[h + 1] - begin[h] > 1 {
            // Many entries with one key (one `sub` revoked many times) share
            // a home: a real sort for those, insertion sort for the rest.
            guard begin[h + 1] - begin[h] <= 16 else {
                sorted[begin[h]..<begin[h + 1]].sort(by: less)
                continue
            }
            for i in begin[h] + 1..<begin[h + 1] {
                let e = sorted[i]
                var j = i
                while j > begin[h], less(e, sorted[j - 1]) {
                    sorted[j] = sorted[j - 1]
                    j -= 1
                }
                sorted[j] = e
            }
        }
        return sorted
    }

    var hasEntries: Bool { entryCount > 0 }

    var bytes: Int {
        slots.count * MemoryLayout<Slot>.stride + befores.count * MemoryLayout<Int64>.stride
    }

    /// Where a walk for a key begins, its first slot already read (the
    /// load that misses the cache): see `RevocationView.revokes`.
    struct Walk {
        var index: Int
        var hi: UInt64
    }

    /// An empty table has no homes, so every walk starts at its one empty slot.
    @inline(__always)
    func start(_ hi: UInt64) -> Walk {
        let home = Int(truncatingIfNeeded: hi.multipliedFullWidth(by: homes).high)
        return Walk(index: home, hi: slots[home].hi)
    }

    /// Where the slots with this `hi` begin, if any.
    @inline(__always)
    func run(of hi: UInt64, from walk: Walk) -> Int? {
        var i = walk.index
        var slotHi = walk.hi
        // hi < UInt64.max, so the empty slot at the end stops the walk.
        while slotHi < hi { i += 1; slotHi = slots[i].hi }
        return slotHi == hi ? i : nil
    }

    /// A live entry (`until >= now`) with this key in the run of its `hi`
    /// that begins at `start`; in the subject table, also `iat < before` (or
    /// no `iat`).
    func matches(_ key: RevocationKey, inRunAt start: Int, now: Int64, iat: Int64?) -> Bool {
        var i = start
        while slots[i].hi == key.hi {
            if slots[i].lo == key.lo && slots[i].until >= now {
                if befores.isEmpty { return true }
                guard let iat else { return true }
                if iat < befores[i] { return true }
            }
            i += 1
        }
        return false
    }
}
