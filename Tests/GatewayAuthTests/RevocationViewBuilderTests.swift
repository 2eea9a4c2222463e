import GatewayAuth
import Testing

/// SplitMix64: reproducible random strings for the large tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 4 to 40 characters from a 64-letter alphabet.
    mutating func string() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let length = Int(next() % 37) + 4
        return String(decoding: (0..<length).map { _ in alphabet[Int(next() & 63)] }, as: UTF8.self)
    }
}

@Suite struct RevocationViewBuilderTests {
    let now: Int64 = 1_700_000_000

    func jti(_ value: String, until: Int64) -> Revocation { Revocation(target: .jti(value), created: now, until: until) }

    @Test func sameIDInDeltaIsReplaced() {
        let builder = RevocationViewBuilder()
        builder.add([jti("a", until: now + 10)])
        #expect(!builder.snapshot().revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
        builder.add([jti("a", until: now + 100)])
        let view = builder.snapshot()
        #expect(view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
        #expect(view.count(kind: .jti) == 1)
        // Replaced with an earlier until: the earlier one holds.
        builder.add([jti("a", until: now + 20)])
        #expect(!builder.snapshot().revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
    }

    @Test func sameIDInBaseIsReplacedWithLaterUntilWithoutRebuild() {
        let builder = RevocationViewBuilder()
        builder.reset([jti("a", until: now + 10), jti("b", until: now + 10)])
        #expect(!builder.snapshot().revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
        let rebuilds = builder.baseRebuilds
        builder.add([jti("a", until: now + 100)])
        let view = builder.snapshot()
        #expect(view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
        #expect(view.count(kind: .jti) == 2)
        #expect(builder.baseRebuilds == rebuilds)
        #expect(builder.deltaCount == 1)
    }

    @Test func sameIDInBaseReplacedWithEarlierUntilTakesTheEarlier() {
        let builder = RevocationViewBuilder()
        builder.reset([jti("a", until: now + 100)])
        _ = builder.snapshot()
        builder.add([jti("a", until: now + 10)])
        let view = builder.snapshot()
        #expect(!view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 50))
        #expect(view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 5))
    }

    @Test func removeFromDeltaIsCheapAndWorks() {
        let builder = RevocationViewBuilder()
        builder.reset([jti("base", until: now + 60)])
        _ = builder.snapshot()
        let rebuilds = builder.baseRebuilds
        builder.add([jti("delta", until: now + 60)])
        #expect(builder.snapshot().revokes(jti: "delta", sid: nil, sub: nil, iat: nil, now: now))
        builder.remove(ids: [Revocation.id(for: .jti("delta"))])
        let view = builder.snapshot()
        #expect(!view.revokes(jti: "delta", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.revokes(jti: "base", sid: nil, sub: nil, iat: nil, now: now))
        #expect(builder.baseRebuilds == rebuilds)
        #expect(view.count(kind: .jti) == 1)
    }

    @Test func removeFromBaseWorks() {
        let builder = RevocationViewBuilder()
        let sub = Revocation(target: .subject("u", before: now), created: now, until: now + 60)
        builder.reset([jti("a", until: now + 60), jti("b", until: now + 60), sub])
        _ = builder.snapshot()
        builder.remove(ids: [Revocation.id(for: .jti("a")), sub.id, "no-such-id"])
        let view = builder.snapshot()
        #expect(!view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.revokes(jti: "b", sid: nil, sub: nil, iat: nil, now: now))
        #expect(!view.revokes(jti: nil, sid: nil, sub: "u", iat: 0, now: now))
        #expect(view.count(kind: .jti) == 1)
        #expect(view.count(kind: .sub) == 0)
    }

    /// An entry replaced in the delta still has its old version in the base:
    /// removing it must remove both.
    @Test func removeOfEntryReplacedOverBaseRemovesBoth() {
        let builder = RevocationViewBuilder()
        builder.reset([jti("a", until: now + 60)])
        _ = builder.snapshot()
        builder.add([jti("a", until: now + 600)])
        _ = builder.snapshot()
        builder.remove(ids: [Revocation.id(for: .jti("a"))])
        let view = builder.snapshot()
        #expect(!view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.count(kind: .jti) == 0)
    }

    @Test func resetReplacesEverything() {
        let builder = RevocationViewBuilder()
        builder.reset([jti("a", until: now + 60), Revocation(target: .sid("s"), created: now, until: now + 60)])
        _ = builder.snapshot()
        builder.add([jti("b", until: now + 60)])
        _ = builder.snapshot()
        builder.reset([jti("c", until: now + 60)])
        let view = builder.snapshot()
        #expect(!view.revokes(jti: "a", sid: "s", sub: nil, iat: nil, now: now))
        #expect(!view.revokes(jti: "b", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.revokes(jti: "c", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.count(kind: .jti) == 1)
        #expect(view.count(kind: .sid) == 0)
        #expect(builder.count == 1)
    }

    /// A reset in pieces, as a log replay hands it over (adds, removals, a
    /// replacement, in order), ends where one `reset` with the final set does.
    @Test func resetInPiecesEqualsResetWithTheFinalSet() {
        let pieces = RevocationViewBuilder()
        pieces.add([jti("old", until: now + 60)])
        _ = pieces.snapshot()
        pieces.beginReset(reservingCapacity: 10)
        pieces.load(added: [jti("a", until: now + 60), jti("b", until: now + 60),
                            Revocation(target: .sid("s"), created: now, until: now + 60)])
        pieces.load(removedIDs: [Revocation.id(for: .jti("b")), "unknown"])
        pieces.load(added: [jti("a", until: now + 600), Revocation(target: .subject("u", before: now), created: now, until: now + 60)])
        let view = pieces.snapshot()

        let whole = RevocationViewBuilder()
        whole.reset([jti("a", until: now + 600), Revocation(target: .sid("s"), created: now, until: now + 60),
                     Revocation(target: .subject("u", before: now), created: now, until: now + 60)])
        let expected = whole.snapshot()
        for t in [now, now + 100] {
            for (j, s, u) in [("a", nil, nil), ("b", nil, nil), ("old", nil, nil), (nil, "s", nil), (nil, nil, "u")] as [(String?, String?, String?)] {
                #expect(view.revokes(jti: j, sid: s, sub: u, iat: now - 1, now: t)
                        == expected.revokes(jti: j, sid: s, sub: u, iat: now - 1, now: t))
            }
        }
        #expect(view.revokes(jti: "a", sid: nil, sub: nil, iat: nil, now: now + 100))
        for kind in RevocationView.Kind.allCases { #expect(view.count(kind: kind) == expected.count(kind: kind)) }
        #expect(pieces.count == 3)
    }

    @Test func snapshotWithoutChangeIsTheSameView() {
        let builder = RevocationViewBuilder()
        builder.add([jti("a", until: now + 60)])
        let first = builder.snapshot()
        #expect(builder.snapshot() === first)
        builder.remove(ids: ["unknown"])
        #expect(builder.snapshot() === first)
        builder.add([jti("b", until: now + 60)])
        #expect(builder.snapshot() !== first)
    }

    /// One by one past the delta's limit (4096 while the base is small): the
    /// base is rebuilt, the delta empties, and every entry is still found.
    @Test func entriesSurviveDeltaIntoBaseRebuilds() {
        let builder = RevocationViewBuilder()
        let total = 9000
        let values = (0..<total).map { "jti-\($0)" }
        var view = builder.snapshot()
        for (i, value) in values.enumerated() {
            builder.add([jti(value, until: now + 60)])
            // A view after each add near the boundaries; in batches elsewhere, to keep the test quick.
            if i % 64 == 0 || (4090...4100).contains(i) || (8185...8200).contains(i) {
                view = builder.snapshot()
                #expect(view.revokes(jti: value, sid: nil, sub: nil, iat: nil, now: now))
                #expect(view.revokes(jti: values[i / 2], sid: nil, sub: nil, iat: nil, now: now))
                #expect(builder.deltaCount <= 4096)
            }
        }
        view = builder.snapshot()
        // 4097 entries overflow the first delta, 4097 more the second (limit max(4096, 4097 / 8)).
        #expect(builder.baseRebuilds == 2)
        #expect(builder.deltaCount == total - 8194)
        #expect(values.allSatisfy { view.revokes(jti: $0, sid: nil, sub: nil, iat: nil, now: now) })
        #expect(!view.revokes(jti: "jti-\(total)", sid: nil, sub: nil, iat: nil, now: now))
        #expect(view.count(kind: .jti) == total)
    }

    /// 100k random entries of every kind, changed through every path,
    /// against a set of strings; members and random non-members.
    @Test func largeRandomSetAgreesWithOracle() {
        var random = SeededGenerator(state: 0x5EED)
        var oracle: [RevocationView.Kind: Set<String>] = [.jti: [], .sid: [], .sub: []]
        var entries: [Revocation] = []
        for _ in 0..<100_000 {
            let value = random.string()
            switch random.next() % 3 {
            case 0: entries.append(Revocation(target: .jti(value), created: now, until: now + 60)); oracle[.jti]!.insert(value)
            case 1: entries.append(Revocation(target: .sid(value), created: now, until: now + 60)); oracle[.sid]!.insert(value)
            default:
                entries.append(Revocation(target: .subject(value, before: now), created: now, until: now + 60))
                oracle[.sub]!.insert(value)
            }
        }
        let builder = RevocationViewBuilder()
        builder.reset(Array(entries[0..<60_000]))
        _ = builder.snapshot()
        builder.add(Array(entries[60_000...]))
        _ = builder.snapshot()
        // Remove a tenth, some from the base, some from the delta.
        let removed = stride(from: 0, to: entries.count, by: 10).map { entries[$0] }
        builder.remove(ids: removed.map(\.id))
        for r in removed { oracle[RevocationView.Kind(rawValue: r.target.kind)!]!.remove(r.target.value) }
        let view = builder.snapshot()

        func revokes(_ kind: RevocationView.Kind, _ value: String) -> Bool {
            switch kind {
            case .jti: return view.revokes(jti: value, sid: nil, sub: nil, iat: now - 1, now: now)
            case .sid: return view.revokes(jti: nil, sid: value, sub: nil, iat: now - 1, now: now)
            case .sub: return view.revokes(jti: nil, sid: nil, sub: value, iat: now - 1, now: now)
            }
        }
        var disagreements = 0
        for r in entries {
            let kind = RevocationView.Kind(rawValue: r.target.kind)!
            if revokes(kind, r.target.value) != oracle[kind]!.contains(r.target.value) { disagreements += 1 }
        }
        var nonMembers = 0
        for _ in 0..<100_000 {
            let value = random.string()
            for kind in RevocationView.Kind.allCases where revokes(kind, value) != oracle[kind]!.contains(value) {
                disagreements += 1
            }
            if !oracle.values.contains(where: { $0.contains(value) }) { nonMembers += 1 }
        }
        #expect(disagreements == 0)
        #expect(nonMembers > 90_000)
        #expect(view.count(kind: .jti) + view.count(kind: .sid) + view.count(kind: .sub) == builder.count)
        #expect(builder.count == oracle.values.reduce(0) { $0 + $1.count })
    }
}
