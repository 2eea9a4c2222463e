/// Writes `/metrics` in the Prometheus text exposition format (version 0.0.4:
/// `# HELP`, `# TYPE`, one sample per line, `\n` line ends; served as
/// `text/plain; version=0.0.4; charset=utf-8`). Worker counters are summed on
/// read. Runs on the admin thread; allocation here is fine.
public enum PrometheusRenderer {
    /// Label value of `requests_total` rows for requests that matched no route.
    public static let noRouteLabel = "-"

    /// Appends every metric of SPEC §8.
    ///
    /// - Parameters:
    ///   - workers: one `WorkerMetrics` per worker thread (read concurrently with
    ///     their writers; see `WorkerMetrics`).
    ///   - routeNames: by route index (`Router.routeNames(config.routes)`).
    ///   - upstreamNames: by upstream index, the order the runtime uses for
    ///     `WorkerMetrics` upstream indices.
    ///   - nowMs: unix milliseconds, for `key_set_age_seconds`.
    public static func render(workers: [WorkerMetrics], process: ProcessMetrics,
                              routeNames: [String], upstreamNames: [String],
                              nowMs: Int64, into out: inout String) {
        // requests_total: only rows seen at least once (500 statuses per route
        // of zeros would drown the page); the status set is open-ended anyway.
        appendHeader("gateway_requests_total", help: "Requests answered, by route and status.",
                     type: "counter", into: &out)
        for r in 0...routeNames.count {
            let route: Int? = r < routeNames.count ? r : nil
            let name = route.map { routeNames[$0] } ?? noRouteLabel
            var byStatus = [Int](repeating: 0, count: WorkerMetrics.statusSlots)
            for w in workers where route == nil || r < w.routeCount {
                w.forEachRequestCount(route: route) { status, n in
                    byStatus[status < 0 ? WorkerMetrics.otherStatusSlot : status - 100] += n
                }
            }
            for (i, n) in byStatus.enumerated() where n != 0 {
                let status = i == WorkerMetrics.otherStatusSlot ? "other" : String(100 + i)
                appendSample("gateway_requests_total", [("route", name), ("status", status)],
                             value: String(n), into: &out)
            }
        }

        appendHeader("gateway_auth_results_total",
                     help: "Authentication outcomes, one per request.", type: "counter", into: &out)
        for a in AuthResultLabel.allCases {
            let n = workers.reduce(0) { $0 &+ $1.authResults(a) }
            appendSample("gateway_auth_results_total", [("result", a.label)], value: String(n), into: &out)
        }

        appendHeader("gateway_refreshes_total",
                     help: "Transparent token refresh attempts, by outcome.", type: "counter", into: &out)
        for o in RefreshOutcomeLabel.allCases {
            let n = workers.reduce(0) { $0 &+ $1.refreshes(o) }
            appendSample("gateway_refreshes_total", [("outcome", o.label)], value: String(n), into: &out)
        }

        appendHeader("gateway_upstream_request_duration_seconds",
                     help: "Time from sending a request upstream to the end of its response.",
                     type: "histogram", into: &out)
        for (u, upstream) in upstreamNames.enumerated() {
            var cumulative = 0
            for b in 0..<WorkerMetrics.bucketCount {
                cumulative &+= workers.reduce(0) { $0 &+ $1.durationBucket(upstream: u, bucket: b) }
                appendSample("gateway_upstream_request_duration_seconds_bucket",
                             [("upstream", upstream), ("le", WorkerMetrics.bucketLabels[b])],
                             value: String(cumulative), into: &out)
            }
            let sumUs = workers.reduce(0) { $0 &+ $1.durationSumMicroseconds(upstream: u) }
            appendSample("gateway_upstream_request_duration_seconds_sum", [("upstream", upstream)],
                         value: decimal(sumUs, fractionDigits: 6), into: &out)
            appendSample("gateway_upstream_request_duration_seconds_count", [("upstream", upstream)],
                         value: String(cumulative), into: &out)
        }

        appendHeader("gateway_upstream_errors_total",
                     help: "Failed upstream exchanges, by upstream and kind.", type: "counter", into: &out)
        for (u, upstream) in upstreamNames.enumerated() {
            for k in UpstreamErrorKind.allCases {
                let n = workers.reduce(0) { $0 &+ $1.upstreamErrors(upstream: u, kind: k) }
                appendSample("gateway_upstream_errors_total", [("upstream", upstream), ("kind", k.label)],
                             value: String(n), into: &out)
            }
        }

        appendHeader("gateway_timeouts_total",
                     help: "Connections ended by a timeout, by which clock ran out.", type: "counter", into: &out)
        for k in TimeoutKindLabel.allCases {
            let n = workers.reduce(0) { $0 &+ $1.timeouts(k) }
            appendSample("gateway_timeouts_total", [("kind", k.label)], value: String(n), into: &out)
        }

        appendHeader("gateway_connections_open", help: "Client connections currently open.",
                     type: "gauge", into: &out)
        appendSample("gateway_connections_open", [],
                     value: String(workers.reduce(0) { $0 &+ $1.connectionsOpen }), into: &out)

        let p = process.snapshot()
        appendHeader("gateway_config_reloads_total", help: "Configuration reloads, by result.",
                     type: "counter", into: &out)
        appendSample("gateway_config_reloads_total", [("result", "ok")], value: String(p.reloadsOK), into: &out)
        appendSample("gateway_config_reloads_total", [("result", "error")],
                     value: String(p.reloadsError), into: &out)

        appendHeader("gateway_key_set_age_seconds",
                     help: "Seconds since the last good load of each key set (+Inf: never loaded).",
                     type: "gauge", into: &out)
        for k in p.keySets {
            let value = k.loadedAtMs.map { decimal(Int(truncatingIfNeeded: max(0, nowMs - $0)), fractionDigits: 3) }
                ?? "+Inf"
            appendSample("gateway_key_set_age_seconds", [("keys", k.label)], value: value, into: &out)
        }

        appendHeader("gateway_key_fetches_total", help: "JWKS fetches, by key set and result.",
                     type: "counter", into: &out)
        for k in p.keyFetches {
            appendSample("gateway_key_fetches_total", [("keys", k.label), ("result", "ok")],
                         value: String(k.ok), into: &out)
            appendSample("gateway_key_fetches_total", [("keys", k.label), ("result", "error")],
                         value: String(k.error), into: &out)
        }

        if !p.tlsCertificates.isEmpty {
            appendHeader("gateway_tls_certificate_expiry_seconds",
                         help: "Seconds until the notAfter of each listener certificate (by file path); negative once expired.",
                         type: "gauge", into: &out)
            for c in p.tlsCertificates {
                appendSample("gateway_tls_certificate_expiry_seconds", [("name", c.path)],
                             value: String(c.notAfter - nowMs / 1000), into: &out)
            }
        }
        if let alive = p.tlsSetsAlive {
            appendHeader("gateway_tls_certificate_sets",
                         help: "Listener certificate sets in memory: the current one and older ones still used by connections opened before a reload.",
                         type: "gauge", into: &out)
            appendSample("gateway_tls_certificate_sets", [], value: String(alive), into: &out)
        }

        appendHeader("gateway_build_info", help: "Build information; always 1.", type: "gauge", into: &out)
        appendSample("gateway_build_info", [("version", process.version)], value: "1", into: &out)
    }

    // MARK: - Building blocks (public so other subsystems can append families)

    /// `# HELP name help\n# TYPE name type\n`. `help` is escaped (`\\`, `\n`).
    public static func appendHeader(_ name: String, help: String, type: String, into out: inout String) {
        out += "# HELP "
        out += name
        out += " "
        for c in help.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\n# TYPE "
        out += name
        out += " "
        out += type
        out += "\n"
    }

    /// `name{k="v",...} value\n`; label values escaped by `appendLabelValue`.
    public static func appendSample(_ name: String, _ labels: [(String, String)], value: String,
                                    into out: inout String) {
        out += name
        if !labels.isEmpty {
            out += "{"
            for (i, (k, v)) in labels.enumerated() {
                if i > 0 { out += "," }
                out += k
                out += "=\""
                appendLabelValue(v, into: &out)
                out += "\""
            }
            out += "}"
        }
        out += " "
        out += value
        out += "\n"
    }

    /// A label value as the text format requires: backslash, double quote and
    /// line feed escaped as `\\`, `\"`, `\n`; everything else verbatim UTF-8.
    public static func appendLabelValue(_ value: String, into out: inout String) {
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
    }

    /// `value / 10^fractionDigits` in plain decimal, exact (no floating point),
    /// trailing zeros dropped: `decimal(1500, fractionDigits: 6)` is `0.0015`,
    /// `decimal(2_000_000, fractionDigits: 6)` is `2`.
    public static func decimal(_ value: Int, fractionDigits: Int) -> String {
        var scale = 1
        for _ in 0..<fractionDigits { scale &*= 10 }
        let negative = value < 0
        let magnitude = value.magnitude
        let whole = magnitude / UInt(scale)
        var frac = magnitude % UInt(scale)
        var s = negative ? "-" : ""
        s += String(whole)
        guard frac != 0 else { return s }
        var digits = fractionDigits
        while frac % 10 == 0 { frac /= 10; digits -= 1 }
        let f = String(frac)
        s += "."
        s += String(repeating: "0", count: digits - f.count)
        s += f
        return s
    }
}
