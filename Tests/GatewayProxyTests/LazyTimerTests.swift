import CLibevent
import GatewayLoop
import Testing

/// `Timer(lazy: true)`: deadlines moved on every request without touching
/// libevent's heap; the action still runs once, at the latest deadline, and
/// never early.
@Suite struct LazyTimerTests {
    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    final class Log { var firedAtMs: [Int64] = [] }

    /// libevent's own timers read a coarse clock (4 ms steps here), so one
    /// may fire a little before the precise clock says; a lazy timer checks
    /// the precise clock itself and re-arms for what is left.
    static func slackMs(lazy: Bool) -> Int64 { lazy ? 0 : 5 }

    /// Runs the loop until `done` or `limitMs` passed (a safety stop).
    static func run(_ loop: EventLoop, limitMs: Int64, until done: @escaping () -> Bool) {
        let guardTimer = Timer(loop: loop) { loop.stop() }
        guardTimer.schedule(afterMs: limitMs)
        let poll = Timer(loop: loop) { loop.stop() }
        while !done() {
            poll.schedule(afterMs: 5)
            loop.run()
            if done() { break }
            if !guardTimer.isPending { break }
        }
        guardTimer.cancel()
        poll.cancel()
    }

    @Test(arguments: [false, true])
    func aMovedDeadlineFiresOnceAtTheLastOne(lazy: Bool) throws {
        let loop = try EventLoop()
        let log = Log()
        let start = Self.monotonicMs()
        let timer = Timer(loop: loop, lazy: lazy) { log.firedAtMs.append(Self.monotonicMs()) }
        timer.schedule(afterMs: 40)
        timer.schedule(afterMs: 80)     // later: a lazy timer keeps its 40 ms event
        #expect(timer.isPending)
        Self.run(loop, limitMs: 2000) { !log.firedAtMs.isEmpty }
        #expect(log.firedAtMs.count == 1)
        #expect((log.firedAtMs.first ?? 0) - start >= 80 - Self.slackMs(lazy: lazy))   // never before the deadline in force
        #expect(!timer.isPending)
    }

    @Test(arguments: [false, true])
    func anEarlierDeadlineFiresEarlier(lazy: Bool) throws {
        let loop = try EventLoop()
        let log = Log()
        let start = Self.monotonicMs()
        let timer = Timer(loop: loop, lazy: lazy) { log.firedAtMs.append(Self.monotonicMs()) }
        timer.schedule(afterMs: 1500)
        timer.schedule(afterMs: 30)
        Self.run(loop, limitMs: 1000) { !log.firedAtMs.isEmpty }
        #expect(log.firedAtMs.count == 1)
        let at = (log.firedAtMs.first ?? .max) - start
        #expect(at >= 30 - Self.slackMs(lazy: lazy) && at < 1000)
    }

    @Test(arguments: [false, true])
    func aCancelledTimerNeverRuns(lazy: Bool) throws {
        let loop = try EventLoop()
        let log = Log()
        let timer = Timer(loop: loop, lazy: lazy) { log.firedAtMs.append(Self.monotonicMs()) }
        timer.schedule(afterMs: 20)
        timer.cancel()
        #expect(!timer.isPending)
        var waited = false
        let after = Timer(loop: loop) { waited = true }
        after.schedule(afterMs: 120)
        Self.run(loop, limitMs: 2000) { waited }
        #expect(log.firedAtMs.isEmpty)
        // Scheduled again after the cancel, it runs.
        timer.schedule(afterMs: 10)
        Self.run(loop, limitMs: 2000) { !log.firedAtMs.isEmpty }
        #expect(log.firedAtMs.count == 1)
    }

    @Test func aTimerRescheduledFromItsOwnActionRunsAgain() throws {
        let loop = try EventLoop()
        let log = Log()
        var timer: Timer?
        timer = Timer(loop: loop, lazy: true) {
            log.firedAtMs.append(Self.monotonicMs())
            if log.firedAtMs.count < 3 { timer?.schedule(afterMs: 10) }
        }
        timer?.schedule(afterMs: 10)
        Self.run(loop, limitMs: 2000) { log.firedAtMs.count == 3 }
        #expect(log.firedAtMs.count == 3)
        timer = nil
    }
}
