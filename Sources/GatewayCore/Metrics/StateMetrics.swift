import Synchronization

/// The metrics of SPEC §7: sessions by outcome, store operation durations,
/// whether the store is up, revocations in the view. Written from worker and
/// admin loops on session and admin operations only (never per proxied
/// request), so one `Mutex` is cheap enough.
public final class StateMetrics: Sendable {
    /// `gateway_sessions_total{outcome}`.
    public enum SessionOutcome: Int, CaseIterable, Sendable {
        case started, refreshed, graceReplay, reuseDetected, invalid, loggedOut

        public var label: String {
            switch self {
            case .started: return "started"
            case .refreshed: return "refreshed"
            case .graceReplay: return "grace_replay"
            case .reuseDetected: return "reuse_detected"
            case .invalid: return "invalid"
            case .loggedOut: return "logged_out"
            }
        }
    }

    /// `gateway_store_operation_duration_seconds{op}`.
    public enum Operation: Int, CaseIterable, Sendable {
        case revoke, unrevoke, listRevocations, startSession, rotate, endSession

        public var label: String {
            switch self {
            case .revoke: return "revoke"
            case .unrevoke: return "unrevoke"
            case .listRevocations: return "list_revocations"
            case .startSession: return "start_session"
            case .rotate: return "rotate"
            case .endSession: return "end_session"
            }
        }
    }

    struct State {
        var sessions = [Int](repeating: 0, count: SessionOutcome.allCases.count)
        /// Per operation: buckets (not cumulative, +Inf last), then the sum in µs.
        var durations = [[Int]](repeating: [Int](repeating: 0, count: WorkerMetrics.bucketCount + 1),
                                count: Operation.allCases.count)
        var revocations: [(kind: String, count: Int)] = [("jti", 0), ("sid", 0), ("sub", 0)]
        var storeUp = false
    }

    private let state = Mutex(State())

    public init() {}

    public func count(_ outcome: SessionOutcome) {
        state.withLock { $0.sessions[outcome.rawValue] += 1 }
    }

    public func observe(_ op: Operation, microseconds: Int64) {
        let us = max(0, microseconds)
        let bucket = WorkerMetrics.bucketBoundsMicroseconds.firstIndex { us <= $0 }
            ?? WorkerMetrics.bucketBoundsMicroseconds.count
        state.withLock { s in
            s.durations[op.rawValue][bucket] += 1
            s.durations[op.rawValue][WorkerMetrics.bucketCount] += Int(truncatingIfNeeded: us)
        }
    }

    /// Entries in the local view, by kind (`jti`, `sid`, `sub`).
    public func setRevocations(_ counts: [(kind: String, count: Int)]) {
        state.withLock { $0.revocations = counts }
    }

    public func setStoreUp(_ up: Bool) {
        state.withLock { $0.storeUp = up }
    }

    public func sessions(_ outcome: SessionOutcome) -> Int {
        state.withLock { $0.sessions[outcome.rawValue] }
    }

    /// Appends the §7 metrics in the Prometheus text format.
    public func render(into out: inout String) {
        let s = state.withLock { $0 }
        PrometheusRenderer.appendHeader("gateway_revocations", help: "Revocations in the local view, by kind.",
                                        type: "gauge", into: &out)
        for r in s.revocations {
            PrometheusRenderer.appendSample("gateway_revocations", [("kind", r.kind)], value: String(r.count), into: &out)
        }
        PrometheusRenderer.appendHeader("gateway_sessions_total", help: "Session operations, by outcome.",
                                        type: "counter", into: &out)
        for o in SessionOutcome.allCases {
            PrometheusRenderer.appendSample("gateway_sessions_total", [("outcome", o.label)],
                                            value: String(s.sessions[o.rawValue]), into: &out)
        }
        PrometheusRenderer.appendHeader("gateway_store_up", help: "1 while the store is reachable and writable.",
                                        type: "gauge", into: &out)
        PrometheusRenderer.appendSample("gateway_store_up", [], value: s.storeUp ? "1" : "0", into: &out)
        PrometheusRenderer.appendHeader("gateway_store_operation_duration_seconds",
                                        help: "Time from a store operation's start to its durable completion.",
                                        type: "histogram", into: &out)
        for op in Operation.allCases {
            let d = s.durations[op.rawValue]
            var cumulative = 0
            for b in 0..<WorkerMetrics.bucketCount {
                cumulative += d[b]
                PrometheusRenderer.appendSample("gateway_store_operation_duration_seconds_bucket",
                                                [("op", op.label), ("le", WorkerMetrics.bucketLabels[b])],
                                                value: String(cumulative), into: &out)
            }
            PrometheusRenderer.appendSample("gateway_store_operation_duration_seconds_sum", [("op", op.label)],
                                            value: PrometheusRenderer.decimal(d[WorkerMetrics.bucketCount], fractionDigits: 6),
                                            into: &out)
            PrometheusRenderer.appendSample("gateway_store_operation_duration_seconds_count", [("op", op.label)],
                                            value: String(cumulative), into: &out)
        }
    }
}
