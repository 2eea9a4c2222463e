import Synchronization

/// The request-path counters of one worker thread (memcached style: counters
/// per worker, summed when read).
///
/// **Threads.** Every `count*`/`observe*`/`connection*` method must be called
/// only by the worker thread that owns this object (one writer). Any thread
/// (the admin thread rendering `/metrics`) may read at any time.
///
/// **Why atomics, and why load + store rather than add.** Each counter is a
/// Synchronization `Atomic<Int>` in one slab allocated at init, so a read from
/// the admin thread while the worker writes is formally race-free (a plain
/// `Int` read concurrently with a write is a data race, even if it "works" on
/// x86). Because there is exactly one writer, an increment is a relaxed load
/// followed by a relaxed store: on x86-64 and arm64 that compiles to ordinary
/// `mov`/`add`/`mov` with no `lock` prefix, so it costs what a plain `Int`
/// increment costs, where `wrappingAdd` would be a locked read-modify-write
/// (~20 cycles, and a full barrier on x86). A second writer would lose counts
/// but could never corrupt memory. Relaxed ordering is enough: readers need
/// each counter's own latest value, not an order between counters (a scrape
/// may see a histogram bucket bumped before its `_sum`; Prometheus tolerates
/// that skew).
///
/// Sized for one config generation: `routeCount` and `upstreamCount` fix the
/// table shape. On a reload that changes the route or upstream tables, the
/// runtime makes new `WorkerMetrics` (Prometheus treats the restart of those
/// series as a counter reset); out-of-range indices are ignored, never a crash.
public final class WorkerMetrics: @unchecked Sendable {
    // @unchecked: all mutable state lives in the atomic slab below; the
    // single-writer rule above is a performance contract, not a safety one.

    public let routeCount: Int
    public let upstreamCount: Int

    /// Status codes 100...599 each have a slot; anything else shares the last
    /// one, rendered as `status="other"`.
    static let statusSlots = 501
    static let otherStatusSlot = 500

    /// Upper bounds of the duration histogram buckets, in microseconds
    /// (Prometheus' default buckets plus 1 ms and 2.5 ms); +Inf is implicit.
    public static let bucketBoundsMicroseconds: [Int64] = [
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000,
    ]
    /// The same bounds as Prometheus `le` label values, seconds.
    public static let bucketLabels: [String] = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
        "1", "2.5", "5", "10", "+Inf",
    ]
    /// Buckets per histogram including +Inf.
    static let bucketCount = 14
    /// Per upstream: the buckets (not cumulative), then the sum in microseconds.
    static let histogramStride = bucketCount + 1

    private let slots: UnsafeMutablePointer<Atomic<Int>>
    private let slotCount: Int
    // Slab layout, in order.
    private let authBase: Int
    private let refreshBase: Int
    private let upstreamErrorBase: Int
    private let timeoutBase: Int
    private let histogramBase: Int
    private let connectionsSlot: Int

    /// - Parameters:
    ///   - routeCount: routes in the config; the table has one more row for
    ///     requests that matched no route (or never got that far).
    ///   - upstreamCount: upstream groups in the config, indexed as the runtime
    ///     indexes them (the same order as the names given to the renderer).
    public init(routeCount: Int, upstreamCount: Int) {
        self.routeCount = max(0, routeCount)
        self.upstreamCount = max(0, upstreamCount)
        let requestSlots = (self.routeCount + 1) * WorkerMetrics.statusSlots
        authBase = requestSlots
        refreshBase = authBase + AuthResultLabel.allCases.count
        upstreamErrorBase = refreshBase + RefreshOutcomeLabel.allCases.count
        timeoutBase = upstreamErrorBase + self.upstreamCount * UpstreamErrorKind.allCases.count
        histogramBase = timeoutBase + TimeoutKindLabel.allCases.count
        connectionsSlot = histogramBase + self.upstreamCount * WorkerMetrics.histogramStride
        slotCount = connectionsSlot + 1
        slots = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: slotCount)
        for i in 0..<slotCount { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    // MARK: - Writing (owning worker thread only)

    /// A response was sent (or the request ended) with `status`. `route` nil:
    /// no route matched, or the request failed before routing.
    @inline(__always)
    public func countRequest(route: Int?, status: Int) {
        bump(requestSlot(route: route, status: status))
    }

    @inline(__always)
    public func countAuth(_ result: AuthResultLabel) {
        bump(authBase + result.rawValue)
    }

    @inline(__always)
    public func countRefresh(_ outcome: RefreshOutcomeLabel) {
        bump(refreshBase + outcome.rawValue)
    }

    @inline(__always)
    public func countUpstreamError(upstream: Int, kind: UpstreamErrorKind) {
        guard upstream >= 0, upstream < upstreamCount else { return }
        bump(upstreamErrorBase + upstream * UpstreamErrorKind.allCases.count + kind.rawValue)
    }

    @inline(__always)
    public func countTimeout(_ kind: TimeoutKindLabel) {
        bump(timeoutBase + kind.rawValue)
    }

    /// One upstream exchange took `microseconds` (request sent to response
    /// complete, as the runtime defines it). Negative values count as 0.
    @inline(__always)
    public func observeUpstreamDuration(upstream: Int, microseconds: Int64) {
        guard upstream >= 0, upstream < upstreamCount else { return }
        let us = max(0, microseconds)
        let bounds = WorkerMetrics.bucketBoundsMicroseconds
        var b = 0
        while b < bounds.count, us > bounds[b] { b += 1 }
        let base = histogramBase + upstream * WorkerMetrics.histogramStride
        bump(base + b)
        bump(base + WorkerMetrics.bucketCount, by: Int(truncatingIfNeeded: us))
    }

    @inline(__always)
    public func connectionOpened() { bump(connectionsSlot) }

    @inline(__always)
    public func connectionClosed() { bump(connectionsSlot, by: -1) }

    // MARK: - Reading (any thread)

    public func requests(route: Int?, status: Int) -> Int {
        read(requestSlot(route: route, status: status))
    }

    /// Calls `body(status, count)` for each status with a non-zero count on
    /// this row; status -1 stands for "other" (outside 100...599).
    public func forEachRequestCount(route: Int?, _ body: (_ status: Int, _ count: Int) -> Void) {
        let row = requestSlot(route: route, status: 100)
        for s in 0..<WorkerMetrics.statusSlots {
            let n = read(row + s)
            if n != 0 { body(s == WorkerMetrics.otherStatusSlot ? -1 : 100 + s, n) }
        }
    }

    public func authResults(_ result: AuthResultLabel) -> Int { read(authBase + result.rawValue) }

    public func refreshes(_ outcome: RefreshOutcomeLabel) -> Int { read(refreshBase + outcome.rawValue) }

    public func upstreamErrors(upstream: Int, kind: UpstreamErrorKind) -> Int {
        guard upstream >= 0, upstream < upstreamCount else { return 0 }
        return read(upstreamErrorBase + upstream * UpstreamErrorKind.allCases.count + kind.rawValue)
    }

    public func timeouts(_ kind: TimeoutKindLabel) -> Int { read(timeoutBase + kind.rawValue) }

    /// Observations that fell in bucket `bucket` (0..<14, the last is +Inf),
    /// not cumulative.
    public func durationBucket(upstream: Int, bucket: Int) -> Int {
        guard upstream >= 0, upstream < upstreamCount, bucket >= 0, bucket < WorkerMetrics.bucketCount
        else { return 0 }
        return read(histogramBase + upstream * WorkerMetrics.histogramStride + bucket)
    }

    /// Sum of observed durations, microseconds.
    public func durationSumMicroseconds(upstream: Int) -> Int {
        guard upstream >= 0, upstream < upstreamCount else { return 0 }
        return read(histogramBase + upstream * WorkerMetrics.histogramStride + WorkerMetrics.bucketCount)
    }

    public var connectionsOpen: Int { read(connectionsSlot) }

    // MARK: - Slab access

    @inline(__always)
    private func requestSlot(route: Int?, status: Int) -> Int {
        let row: Int
        if let route, route >= 0, route < routeCount { row = route } else { row = routeCount }
        let col = (status >= 100 && status <= 599) ? status - 100 : WorkerMetrics.otherStatusSlot
        return row * WorkerMetrics.statusSlots + col
    }

    @inline(__always)
    private func bump(_ i: Int, by n: Int = 1) {
        let p = slots + i
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    @inline(__always)
    private func read(_ i: Int) -> Int {
        (slots + i).pointee.load(ordering: .relaxed)
    }
}
