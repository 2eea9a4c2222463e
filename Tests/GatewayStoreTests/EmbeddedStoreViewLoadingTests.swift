import Dispatch
import Glibc
import GatewayAuth
import Synchronization
@testable import GatewayStore
import Testing

/// `EmbeddedStore.openLoadingView`: the view built while the log is
/// replayed must hold exactly what the store replayed, and the feed that
/// follows must bring it up to date without a `.reset`.
@Suite struct EmbeddedStoreViewLoadingTests {
    let now = testNow / 1000

    /// More adds than one batch, deletions, a replacement with a later
    /// `until`, a subject revoked twice, and one entry that expires before
    /// the reopening.
    func writeMixedLog(_ dir: TempDirectory, clock: TestClock) throws -> (live: [Revocation.Target], gone: [Revocation.Target], expiredID: String) {
        let f = try StoreFixture.open(dir, clock: clock)
        defer { f.store.stop() }
        var live: [Revocation.Target] = [], gone: [Revocation.Target] = []
        // All in flight at once (group commit keeps this quick), then the deletions.
        let targets = (0..<(ReplayBatcher.batchSize + 100)).map { Revocation.Target.jti("j\($0)") }
        let acks = DispatchSemaphore(value: 0)
        let failures = Atomic<Int>(0)
        for target in targets {
            f.store.addRevocation(target, until: now + 3600, now: now, on: InlineExecutor()) { result in
                if case .failure = result { failures.add(1, ordering: .relaxed) }
                acks.signal()
            }
        }
        for _ in targets { acks.wait() }
        for (i, target) in targets.enumerated() {
            if i % 7 == 3 {
                f.store.deleteRevocation(id: Revocation.id(for: target), on: InlineExecutor()) { result in
                    if case .success(true) = result {} else { failures.add(1, ordering: .relaxed) }
                    acks.signal()
                }
                gone.append(target)
            } else {
                live.append(target)
            }
        }
        for _ in gone { acks.wait() }
        #expect(failures.load(ordering: .relaxed) == 0)
        _ = try f.add(.jti("j5"), until: now + 7200).get()
        for i in 0..<20 { live.append(.sid("s\(i)")); _ = try f.add(.sid("s\(i)"), until: now + 3600).get() }
        live.append(.subject("alice", before: now - 100))
        _ = try f.add(.subject("alice", before: now - 100), until: now + 3600).get()
        live.append(.subject("alice", before: now - 10))
        _ = try f.add(.subject("alice", before: now - 10), until: now + 3600).get()
        let expiring = try f.add(.jti("soon"), until: now + 5).get()
        return (live, gone, expiring.id)
    }

    func revoked(_ view: RevocationView, _ target: Revocation.Target, iat: Int64, at t: Int64) -> Bool {
        switch target {
        case .jti(let v): view.revokes(jti: v, sid: nil, sub: nil, iat: iat, now: t)
        case .sid(let v): view.revokes(jti: nil, sid: v, sub: nil, iat: iat, now: t)
        case .subject(let v, _): view.revokes(jti: nil, sid: nil, sub: v, iat: iat, now: t)
        }
    }

    @Test func loadedViewHoldsWhatTheStoreReplayed() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let clock = TestClock(testNow)
        let (live, gone, expiredID) = try writeMixedLog(dir, clock: clock)
        clock.set(testNow + 60_000)   // "soon" has expired by the reopening
        let later = now + 60

        // The way it was: a plain open, its `.reset`, a builder.
        let plain = try StoreFixture.open(dir, clock: clock)
        try waitUntil { plain.feed.resetCount == 1 }
        guard case .reset(let all)? = plain.feed.all.first else { Issue.record("no reset first"); return }
        plain.store.stop()
        let reference = RevocationViewBuilder()
        reference.reset(all)
        let expected = reference.snapshot()

        let feed = FeedRecorder()
        let options = EmbeddedStore.Options(sweepInterval: .seconds(3600), clock: { clock.millis })
        let (store, builder) = try EmbeddedStore.openLoadingView(directory: dir.stateDir, options: options, log: { _ in })
        let loaded = builder.snapshot()
        for target in live + gone + [.jti("soon"), .jti("never"), .sid("never"), .subject("bob", before: 0)] {
            for iat in [now - 200, now - 50, now] {
                #expect(revoked(loaded, target, iat: iat, at: later) == revoked(expected, target, iat: iat, at: later),
                        "\(target) iat \(iat)")
            }
        }
        for target in live { #expect(revoked(loaded, target, iat: now - 200, at: later)) }
        for target in gone { #expect(!revoked(loaded, target, iat: now - 200, at: later)) }

        // The feed begins with the entry that expired, not with a `.reset`.
        store.start(feed: feed.callback)
        try waitUntil { !feed.all.isEmpty }
        #expect(feed.resetCount == 0)
        guard case .removed(let ids)? = feed.all.first else { Issue.record("feed began with \(feed.all)"); return }
        #expect(ids == [expiredID])
        builder.remove(ids: ids)
        let current = builder.snapshot()
        for kind in RevocationView.Kind.allCases { #expect(current.count(kind: kind) == expected.count(kind: kind)) }
        // Still a working store.
        let f = StoreFixture(store: store, faults: FaultSwitch(), feed: feed, logs: LogLines(), clock: clock)
        _ = try f.add(.jti("after"), until: now + 3600).get()
        store.stop()
    }

    @Test func tornTailIsLeftOutOfTheLoadedView() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            _ = try f.add(.jti("kept"), until: now + 100).get()
            f.store.stop()
        }
        var w = LogRecordWriter()
        LogRecord.revocationAdded(Revocation(target: .jti("half"), created: now, until: now + 90), seq: 9).encode(into: &w)
        writeFile(dir.logPath, readFile(dir.logPath) + w.bytes.prefix(w.bytes.count - 3))
        let logs = LogLines()
        let (store, builder) = try EmbeddedStore.openLoadingView(directory: dir.stateDir, log: { logs.append($0) })
        defer { store.stop() }
        let view = builder.snapshot()
        #expect(view.revokes(jti: "kept", sid: nil, sub: nil, iat: nil, now: now))
        #expect(!view.revokes(jti: "half", sid: nil, sub: nil, iat: nil, now: now))
        #expect(logs.all.count == 1)
    }

    @Test func damageRefusesTheOpenAndStopsTheLoader() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            for i in 0..<3 { _ = try f.add(.jti("r\(i)"), until: now + 100).get() }
            f.store.stop()
        }
        var bytes = readFile(dir.logPath)
        bytes[LogFormat.headerSize + 20] ^= 0xFF   // inside the session key record: not the last one
        writeFile(dir.logPath, bytes)
        #expect(throws: StoreError.self) {
            _ = try EmbeddedStore.openLoadingView(directory: dir.stateDir, log: { _ in })
        }
        // The lock went with the failed open: a second try fails the same way, not "in use".
        do {
            _ = try EmbeddedStore.openLoadingView(directory: dir.stateDir, log: { _ in })
            Issue.record("a damaged log opened")
        } catch {
            #expect(!"\(error)".contains("in use"))
        }
    }
}

/// Polls `condition` for up to 5 s (a deadline, not a speed check).
func waitUntil(_ condition: () -> Bool) throws {
    for _ in 0..<500 {
        if condition() { return }
        usleep(10_000)
    }
    Issue.record("condition not met within 5 s")
}
