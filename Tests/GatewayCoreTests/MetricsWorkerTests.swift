import Testing
@testable import GatewayCore

/// WorkerMetrics (file named Metrics* to stay in this area's test files).
@Suite struct MetricsWorkerTests {
    @Test func requestsByRouteAndStatus() {
        let m = WorkerMetrics(routeCount: 2, upstreamCount: 1)
        m.countRequest(route: 0, status: 200)
        m.countRequest(route: 0, status: 200)
        m.countRequest(route: 1, status: 401)
        m.countRequest(route: nil, status: 404)
        m.countRequest(route: 7, status: 404)      // out of range: the no-route row
        m.countRequest(route: 0, status: 999)      // outside 100...599: "other"
        m.countRequest(route: 0, status: 42)
        #expect(m.requests(route: 0, status: 200) == 2)
        #expect(m.requests(route: 1, status: 401) == 1)
        #expect(m.requests(route: nil, status: 404) == 2)
        #expect(m.requests(route: 0, status: 600) == 2)  // same "other" slot
        var seen: [Int: Int] = [:]
        m.forEachRequestCount(route: 0) { s, n in seen[s] = n }
        #expect(seen == [200: 2, -1: 2])
    }

    @Test func labelsAndErrors() {
        let m = WorkerMetrics(routeCount: 0, upstreamCount: 2)
        m.countAuth(.ok); m.countAuth(.ok); m.countAuth(.refreshed)
        m.countRefresh(.cappedCount)
        m.countUpstreamError(upstream: 1, kind: .timeout)
        m.countUpstreamError(upstream: 2, kind: .timeout)  // out of range: ignored
        m.countUpstreamError(upstream: -1, kind: .reset)
        #expect(m.authResults(.ok) == 2)
        #expect(m.authResults(.refreshed) == 1)
        #expect(m.authResults(.none) == 0)
        #expect(m.refreshes(.cappedCount) == 1)
        #expect(m.upstreamErrors(upstream: 1, kind: .timeout) == 1)
        #expect(m.upstreamErrors(upstream: 0, kind: .timeout) == 0)
        #expect(m.upstreamErrors(upstream: 2, kind: .timeout) == 0)
    }

    @Test func timeoutsByKindDoNotTouchNeighbours() {
        let m = WorkerMetrics(routeCount: 1, upstreamCount: 1)
        m.countTimeout(.upstreamRead); m.countTimeout(.upstreamRead); m.countTimeout(.send)
        m.observeUpstreamDuration(upstream: 0, microseconds: 500)
        #expect(m.timeouts(.upstreamRead) == 2)
        #expect(m.timeouts(.send) == 1)
        #expect(m.timeouts(.tunnelIdle) == 0)
        #expect(m.upstreamErrors(upstream: 0, kind: .protocol) == 0)
        #expect(m.durationBucket(upstream: 0, bucket: 0) == 1)
        #expect(m.connectionsOpen == 0)
    }

    @Test func histogramBucketsAreUpperInclusive() {
        let m = WorkerMetrics(routeCount: 1, upstreamCount: 1)
        m.observeUpstreamDuration(upstream: 0, microseconds: 1_000)      // le 0.001
        m.observeUpstreamDuration(upstream: 0, microseconds: 1_001)      // le 0.0025
        m.observeUpstreamDuration(upstream: 0, microseconds: 10_000_001) // +Inf
        m.observeUpstreamDuration(upstream: 0, microseconds: -5)         // 0: le 0.001
        m.observeUpstreamDuration(upstream: 3, microseconds: 5)          // ignored
        #expect(m.durationBucket(upstream: 0, bucket: 0) == 2)
        #expect(m.durationBucket(upstream: 0, bucket: 1) == 1)
        #expect(m.durationBucket(upstream: 0, bucket: 13) == 1)
        #expect(m.durationSumMicroseconds(upstream: 0) == 10_002_002)
        #expect(WorkerMetrics.bucketLabels.count == WorkerMetrics.bucketBoundsMicroseconds.count + 1)
    }

    @Test func connectionsGauge() {
        let m = WorkerMetrics(routeCount: 0, upstreamCount: 0)
        m.connectionOpened(); m.connectionOpened(); m.connectionClosed()
        #expect(m.connectionsOpen == 1)
    }

    @Test func concurrentReaderSeesSingleWriterCounts() async {
        let m = WorkerMetrics(routeCount: 1, upstreamCount: 1)
        let writer = Task.detached {
            for _ in 0..<100_000 { m.countRequest(route: 0, status: 200) }
        }
        var last = 0
        for _ in 0..<1_000 {
            let now = m.requests(route: 0, status: 200)
            #expect(now >= last)  // monotonic as seen from another thread
            last = now
        }
        await writer.value
        #expect(m.requests(route: 0, status: 200) == 100_000)
    }
}
