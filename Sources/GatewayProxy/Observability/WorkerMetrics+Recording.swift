import GatewayCore

/// Renders /metrics from every worker's counters (summed on read) and the
/// process-wide ones. Admin thread.
enum MetricsExposition {
    static func render(workers: [Worker], process: ProcessMetrics, runtime: RuntimeConfig, nowMs: Int64,
                       into text: inout String) {
        PrometheusRenderer.render(workers: workers.map { $0.metricsForReading }, process: process,
                                  routeNames: runtime.routeNames, upstreamNames: runtime.upstreams.map(\.name),
                                  nowMs: nowMs, into: &text)
    }
}

/// Turns an exchange's facts into one access-log line.
enum AccessLogWriter {
    static func write(_ e: AccessLogEntry, format: AccessLogFormat, into out: inout [UInt8]) {
        let head = e.head
        let record = AccessLogRecord(
            timeUnixMs: e.startUs / 1000, client: e.client, method: head.bytes[head.method],
            target: head.forwardedTarget, route: e.route, status: e.status, upstream: e.upstream,
            durationMicroseconds: e.durationUs, bytesIn: e.bytesIn, bytesOut: e.bytesOut, auth: e.auth,
            sub: e.sub, requestID: e.requestID[...])
        switch format {
        case .json: AccessLogFormatter.json(record, into: &out)
        case .text: AccessLogFormatter.text(record, into: &out)
        case .off: break
        }
    }
}
