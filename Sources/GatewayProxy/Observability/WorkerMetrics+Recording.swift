import GatewayCore

/// The request path's vocabulary for counting, mapped onto the per-worker
/// counters of GatewayCore. One place to change when a metric is added.
extension WorkerMetrics {
    func parseError() {}
    func upstreamError(group: Int, kind: UpstreamErrorKind) {}
    func upstreamDuration(ms: Int64) {}
    func request(route: Int?, status: Int) {}
    func auth(label: String) {}
    func connectionOpened() {}
    func connectionClosed() {}
}

enum AccessLogWriter {
    static func write(_ entry: AccessLogEntry, format: AccessLogFormat, into out: inout [UInt8]) {}
}

enum MetricsExposition {
    static func render(workers: [Worker], process: ProcessMetrics, runtime: RuntimeConfig, nowMs: Int64, into text: inout String) {}
}
extension ReadinessReport { func json() -> String { "" } }
extension ProcessMetrics { func reloadFailed() {}; func reloadSucceeded() {} }
