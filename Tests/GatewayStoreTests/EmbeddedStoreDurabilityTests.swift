import Dispatch
import Glibc
import Synchronization
import Testing
@testable import GatewayStore
import GatewayAuth
import GatewayLoop

@Suite("Embedded store: durability, locking, failures, compaction")
struct EmbeddedStoreDurabilityTests {
    let now = testNow / 1000
    let session = SessionRecord(sid: "sid-1", sub: "alice", claims: Array(#"{"a":1}"#.utf8),
                                start: testNow, expires: testNow + 86_400_000)

    @Test func reopenFindsEverythingAcknowledged() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let key: [UInt8]?
        let entries: [Revocation]
        do {
            let f = try StoreFixture.open(dir)
            key = f.store.sessionKey
            _ = try f.add(.jti("a"), until: now + 100).get()
            let b = try f.add(.sid("b"), until: now + 100).get()
            _ = try f.add(.subject("c", before: now), until: now + 100).get()
            _ = try f.add(.sid("b"), until: now + 200).get()
            #expect(try f.delete(Revocation.id(for: .jti("a"))).get())
            try f.startSession(session, token: hash("t0")).get()
            _ = try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 5000).get()
            entries = try f.list().get().items
            #expect(entries.first?.id == b.id && entries.first?.until == now + 200)
            f.store.stop()
            f.store.stop()   // idempotent
        }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        #expect(f.store.sessionKey == key)
        #expect(try f.list().get().items == entries)
        // The rotation survived: a retry within grace replays it, the successor works.
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 6000).get()
                == .replay(session, usedAt: testNow + 5000))
        #expect(try f.rotate(hash("t1"), successor: hash("t2"), now: testNow + 7000).get()
                == .rotated(session, usedAt: testNow + 7000))
        #expect(f.logs.all.isEmpty)
    }

    @Test(arguments: [16, 100, 1000])
    func replayReadsRecordsAcrossChunkBoundaries(chunk: Int) throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        var claims = [UInt8](repeating: UInt8(ascii: "x"), count: 3000)   // a record larger than the chunk
        claims[0] = UInt8(ascii: "{")
        var big = session
        big.claims = claims
        do {
            let f = try StoreFixture.open(dir)
            for i in 0..<50 { _ = try f.add(.jti("r\(i)"), until: now + 100).get() }
            try f.startSession(big, token: hash("t0")).get()
            f.store.stop()
        }
        let state = StoreState()
        let size = fileSize(dir.logPath)
        var noBatcher: ReplayBatcher?
        #expect(try LogReplay.read(path: dir.logPath, size: size, into: state, batcher: &noBatcher, chunkSize: chunk) == size)
        // (The reset feed carries no order: a view has none.)
        #expect(Set(state.liveRevocations().map(\.target)) == Set((0..<50).map { .jti("r\($0)") }))
        #expect(state.sessions["sid-1"] == big)
    }

    @Test func tornTailIsSkippedLoggedAndCutOff() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            _ = try f.add(.jti("kept"), until: now + 100).get()
            f.store.stop()
        }
        let good = fileSize(dir.logPath)
        var w = LogRecordWriter()
        LogRecord.revocationAdded(Revocation(target: .jti("half"), created: now, until: now + 9), seq: 9).encode(into: &w)
        writeFile(dir.logPath, readFile(dir.logPath) + w.bytes.prefix(w.bytes.count / 2))

        do {
            let f = try StoreFixture.open(dir)
            #expect(f.logs.all == ["\(dir.logPath): torn record at offset \(good) skipped"])
            #expect(fileSize(dir.logPath) == good)
            #expect(try f.list().get().items.map(\.target) == [.jti("kept")])
            _ = try f.add(.jti("after"), until: now + 100).get()
            f.store.stop()
        }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        #expect(f.logs.all.isEmpty)
        #expect(try f.list().get().items.map(\.target) == [.jti("kept"), .jti("after")])
    }

    @Test func lastRecordFailingItsChecksumIsTorn() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            _ = try f.add(.jti("kept"), until: now + 100).get()
            _ = try f.add(.jti("damaged"), until: now + 100).get()
            f.store.stop()
        }
        var bytes = readFile(dir.logPath)
        let last = try #require(recordOffsets(bytes).last)
        bytes[bytes.count - 3] ^= 0xFF
        writeFile(dir.logPath, bytes)
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        #expect(f.logs.all == ["\(dir.logPath): torn record at offset \(last) skipped"])
        #expect(try f.list().get().items.map(\.target) == [.jti("kept")])
    }

    @Test func damageInTheMiddleRefusesToOpen() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            for i in 0..<3 { _ = try f.add(.jti("r\(i)"), until: now + 100).get() }
            f.store.stop()
        }
        var bytes = readFile(dir.logPath)
        let second = recordOffsets(bytes)[2]
        bytes[second + LogFormat.frameSize + 5] ^= 0x01
        writeFile(dir.logPath, bytes)
        #expect(throws: StoreError.open("\(dir.logPath): corrupt record at offset \(second) (checksum mismatch)")) {
            _ = try StoreFixture.open(dir)
        }
        // Nothing was cut: the file is left for a human to look at.
        #expect(readFile(dir.logPath) == bytes)
    }

    /// A record that frames and decodes but cannot apply (a second session
    /// key), with thousands of good records after it: the open is refused
    /// at that record, whatever the reader had decoded past it meanwhile
    /// (records are applied on a thread of their own, behind the reader).
    @Test func recordThatCannotApplyRefusesAtItsOffset() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            _ = try f.add(.jti("first"), until: now + 100).get()
            f.store.stop()
        }
        var bytes = readFile(dir.logPath)
        let bad = bytes.count
        var w = LogRecordWriter()
        LogRecord.sessionKey([UInt8](repeating: 7, count: 32)).encode(into: &w)
        for i in 0..<(3 * ReplayApplier.batchSize) {
            LogRecord.revocationAdded(Revocation(target: .jti("after-\(i)"), created: now, until: now + 100),
                                      seq: UInt64(10 + i)).encode(into: &w)
        }
        bytes += w.bytes
        writeFile(dir.logPath, bytes)
        #expect(throws: StoreError.open("\(dir.logPath): corrupt record at offset \(bad) (second session key)")) {
            _ = try StoreFixture.open(dir)
        }
        #expect(readFile(dir.logPath) == bytes)
    }

    @Test func newerRecordVersionRefusesToOpen() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do {
            let f = try StoreFixture.open(dir)
            _ = try f.add(.jti("a"), until: now + 100).get()
            f.store.stop()
        }
        let offset = fileSize(dir.logPath)
        var w = LogRecordWriter()
        w.begin(.revocationRemoved)
        w.bytes[LogFormat.frameSize] = 7
        w.string("x")
        w.end()
        writeFile(dir.logPath, readFile(dir.logPath) + w.bytes)
        #expect(throws: StoreError.open(
            "\(dir.logPath): record version 7 at offset \(offset) is newer than this gateway understands")) {
            _ = try StoreFixture.open(dir)
        }
    }

    @Test func newerFormatVersionRefusesToOpen() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        do { try StoreFixture.open(dir, start: false).store.stop() }
        var bytes = readFile(dir.logPath)
        bytes[6] = 2
        writeFile(dir.logPath, bytes)
        #expect(throws: StoreError.open("\(dir.logPath): format version 2 is newer than this gateway understands")) {
            _ = try StoreFixture.open(dir)
        }
    }

    @Test func secondOpenOfTheDirectoryIsRefusedWhileLocked() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let first = try StoreFixture.open(dir)
        #expect(throws: StoreError.open("state_dir \(dir.stateDir) is in use by another gateway process (pid \(getpid()))")) {
            _ = try StoreFixture.open(dir)
        }
        first.store.stop()
        let second = try StoreFixture.open(dir)
        second.store.stop()
    }

    @Test(arguments: [(true, ENOSPC), (false, EIO)])
    func failedWriteOrSyncRefusesTheBatchAndRollsBack(failWrite: Bool, code: Int32) throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        try f.startSession(session, token: hash("t0")).get()
        let sizeBefore = fileSize(dir.logPath)

        if failWrite { f.faults.failWrites(with: code) } else { f.faults.failSyncs(with: code) }
        let refused = f.add(.jti("lost"), until: now + 100)
        guard case .failure(.unavailable(let why)) = refused else {
            Issue.record("expected unavailable, got \(refused)")
            return
        }
        #expect(why.contains(dir.logPath))
        #expect(f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 1) == .failure(.unavailable(why)))
        #expect(f.store.status == .down(why))
        #expect(fileSize(dir.logPath) == sizeBefore)
        // Reads still answer from memory, which was rolled back.
        #expect(try f.list().get().items.isEmpty)
        #expect(f.feed.addedIDs.isEmpty)

        f.faults.heal()
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 2).get()
                == .rotated(session, usedAt: testNow + 2))
        let kept = try f.add(.jti("kept"), until: now + 100).get()
        #expect(f.store.status == .up)
        f.store.stop()

        let again = try StoreFixture.open(dir)
        defer { again.store.stop() }
        #expect(again.logs.all.isEmpty)
        #expect(try again.list().get().items == [kept])
    }

    @Test func compactionKeepsLiveEntriesAndDropsTheRest() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let clock = TestClock(testNow)
        var kept: [Revocation] = []
        do {
            let f = try StoreFixture.open(dir, clock: clock, compactionThreshold: 4096,
                                          sweepInterval: .milliseconds(10))
            var long: [Revocation] = []
            for i in 0..<60 { long.append(try f.add(.jti("long-\(i)"), until: now + 3600).get()) }
            for i in 0..<60 { _ = try f.add(.jti("short-\(i)"), until: now + 5).get() }
            for r in long.prefix(40) { #expect(try f.delete(r.id).get()) }
            kept = Array(long.suffix(20))
            try f.startSession(session, token: hash("t0")).get()
            _ = try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 1000).get()
            let grown = fileSize(dir.logPath)

            clock.set(testNow + 10_000)   // the short ones expire
            var turns = 0
            while !f.logs.all.contains(where: { $0.contains("compacted") }) && turns < 400 {
                _ = f.list(now: 0)   // a turn of the writer
                usleep(5000)
                turns += 1
            }
            #expect(f.logs.all.contains { $0.hasPrefix("\(dir.logPath): compacted \(grown) bytes to ") })
            #expect(fileSize(dir.logPath) < grown / 2)
            #expect(try f.list(now: 0).get().items == kept)
            #expect(Set(f.feed.removedIDs).count == 100)   // 40 deleted, 60 expired
            // Appends after the compaction land in the new file.
            kept.append(try f.add(.jti("after"), until: now + 3600).get())
            f.store.stop()
        }
        let f = try StoreFixture.open(dir, clock: clock)
        defer { f.store.stop() }
        #expect(try f.list(now: 0).get().items == kept)
        #expect(try f.rotate(hash("t0"), successor: hash("t1"), now: testNow + 20_000).get()
                == .replay(session, usedAt: testNow + 1000))
        #expect(try f.rotate(hash("t1"), successor: hash("t2"), now: testNow + 20_000).get()
                == .rotated(session, usedAt: testNow + 20_000))
        #expect(fileSize(dir.logPath + ".tmp") == -1)
    }

    @Test func concurrentOperationsShareFsyncs() throws {
        let dir = TempDirectory()
        defer { dir.remove() }
        let f = try StoreFixture.open(dir)
        defer { f.store.stop() }
        f.faults.slowSyncs(micros: 5000)
        let syncsBefore = f.faults.syncs
        let results = Mutex<[Result<Revocation, StoreError>]>([])
        let allDone = DispatchSemaphore(value: 0)
        // Every client waits here until all 64 threads exist, so the operations
        // arrive together even where spawning a thread is slow (under TSan
        // 64 sequential spawns spread the arrivals over many 5 ms syncs).
        let start = DispatchSemaphore(value: 0)
        let store = f.store
        let when = now
        for i in 0..<64 {
            OSThread.spawn(name: "client-\(i)") {
                start.wait()
                store.addRevocation(.jti("c\(i)"), until: when + 100, now: when, on: InlineExecutor()) { r in
                    results.withLock { $0.append(r) }
                    allDone.signal()
                }
            }
        }
        for _ in 0..<64 { start.signal() }
        for _ in 0..<64 { allDone.wait() }
        let all = results.withLock { $0 }
        #expect(all.count == 64)
        #expect(all.allSatisfy { (try? $0.get()) != nil })
        let syncs = f.faults.syncs - syncsBefore
        #expect(syncs >= 1 && syncs <= 16, "\(syncs) fsyncs for 64 operations")
        #expect(try f.list().get().items.count == 64)
    }
}
