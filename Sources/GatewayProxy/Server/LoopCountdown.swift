import Synchronization

/// Runs `then` once, on the thread of the last of `count` loops to call
/// `done()`: for work posted to every loop (a reload) that must be finished
/// everywhere before it is reported.
final class LoopCountdown: Sendable {
    private let left: Mutex<Int>
    private let then: @Sendable () -> Void

    init(_ count: Int, then: @escaping @Sendable () -> Void) {
        left = Mutex(count)
        self.then = then
        if count <= 0 { then() }
    }

    func done() {
        let last = left.withLock { n -> Bool in
            n -= 1
            return n == 0
        }
        if last { then() }
    }
}
