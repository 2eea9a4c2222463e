import Testing
@testable import GatewayCore

/// PrometheusRenderer.
@Suite struct MetricsPrometheusRendererTests {
    @Test func twoWorkersSummedAndRenderedLineByLine() {
        let a = WorkerMetrics(routeCount: 2, upstreamCount: 1)
        let b = WorkerMetrics(routeCount: 2, upstreamCount: 1)
        a.countRequest(route: 0, status: 200)
        b.countRequest(route: 0, status: 200)
        b.countRequest(route: 0, status: 502)
        a.countRequest(route: 1, status: 401)
        b.countRequest(route: nil, status: 404)
        a.countAuth(.ok); b.countAuth(.ok); b.countAuth(.missing)
        a.countRefresh(.issued)
        b.countUpstreamError(upstream: 0, kind: .connect)
        a.countTimeout(.send); b.countTimeout(.send); b.countTimeout(.tunnelIdle)
        a.observeUpstreamDuration(upstream: 0, microseconds: 800)        // le 0.001
        b.observeUpstreamDuration(upstream: 0, microseconds: 30_000)     // le 0.05
        b.observeUpstreamDuration(upstream: 0, microseconds: 12_000_000) // +Inf
        a.connectionOpened(); a.connectionOpened(); b.connectionOpened(); a.connectionClosed()

        let p = ProcessMetrics(version: "0.1.0")
        p.countConfigReload(succeeded: true)
        p.setKeySets(["https://idp.example/jwks", "env:HS"])
        p.keySetLoaded("env:HS", atMs: 1_000)
        p.countKeyFetch("https://idp.example/jwks", succeeded: false, nowMs: 1_500)

        var text = ""
        PrometheusRenderer.render(workers: [a, b], process: p,
                                  routeNames: ["/", "api.example.com/v1/"], upstreamNames: ["app"],
                                  nowMs: 4_250, into: &text)
        let expected = """
        # HELP gateway_requests_total Requests answered, by route and status.
        # TYPE gateway_requests_total counter
        gateway_requests_total{route="/",status="200"} 2
        gateway_requests_total{route="/",status="502"} 1
        gateway_requests_total{route="api.example.com/v1/",status="401"} 1
        gateway_requests_total{route="-",status="404"} 1
        # HELP gateway_auth_results_total Authentication outcomes, one per request.
        # TYPE gateway_auth_results_total counter
        gateway_auth_results_total{result="none"} 0
        gateway_auth_results_total{result="ok"} 2
        gateway_auth_results_total{result="missing"} 1
        gateway_auth_results_total{result="invalid"} 0
        gateway_auth_results_total{result="expired"} 0
        gateway_auth_results_total{result="revoked"} 0
        gateway_auth_results_total{result="forbidden"} 0
        gateway_auth_results_total{result="refreshed"} 0
        # HELP gateway_refreshes_total Transparent token refresh attempts, by outcome.
        # TYPE gateway_refreshes_total counter
        gateway_refreshes_total{outcome="issued"} 1
        gateway_refreshes_total{outcome="claims_updated"} 0
        gateway_refreshes_total{outcome="capped_age"} 0
        gateway_refreshes_total{outcome="capped_count"} 0
        gateway_refreshes_total{outcome="error"} 0
        # HELP gateway_upstream_request_duration_seconds Time from sending a request upstream to the end of its response.
        # TYPE gateway_upstream_request_duration_seconds histogram
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.001"} 1
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.0025"} 1
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.005"} 1
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.01"} 1
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.025"} 1
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.05"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.1"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.25"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="0.5"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="1"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="2.5"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="5"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="10"} 2
        gateway_upstream_request_duration_seconds_bucket{upstream="app",le="+Inf"} 3
        gateway_upstream_request_duration_seconds_sum{upstream="app"} 12.0308
        gateway_upstream_request_duration_seconds_count{upstream="app"} 3
        # HELP gateway_upstream_errors_total Failed upstream exchanges, by upstream and kind.
        # TYPE gateway_upstream_errors_total counter
        gateway_upstream_errors_total{upstream="app",kind="connect"} 1
        gateway_upstream_errors_total{upstream="app",kind="timeout"} 0
        gateway_upstream_errors_total{upstream="app",kind="reset"} 0
        gateway_upstream_errors_total{upstream="app",kind="protocol"} 0
        # HELP gateway_timeouts_total Connections ended by a timeout, by which clock ran out.
        # TYPE gateway_timeouts_total counter
        gateway_timeouts_total{kind="request_head"} 0
        gateway_timeouts_total{kind="request_body"} 0
        gateway_timeouts_total{kind="send"} 2
        gateway_timeouts_total{kind="upstream_connect"} 0
        gateway_timeouts_total{kind="upstream_response"} 0
        gateway_timeouts_total{kind="upstream_read"} 0
        gateway_timeouts_total{kind="tunnel_idle"} 1
        # HELP gateway_connections_open Client connections currently open.
        # TYPE gateway_connections_open gauge
        gateway_connections_open 2
        # HELP gateway_config_reloads_total Configuration reloads, by result.
        # TYPE gateway_config_reloads_total counter
        gateway_config_reloads_total{result="ok"} 1
        gateway_config_reloads_total{result="error"} 0
        # HELP gateway_key_set_age_seconds Seconds since the last good load of each key set (+Inf: never loaded).
        # TYPE gateway_key_set_age_seconds gauge
        gateway_key_set_age_seconds{keys="env:HS"} 3.25
        gateway_key_set_age_seconds{keys="https://idp.example/jwks"} +Inf
        # HELP gateway_key_fetches_total JWKS fetches, by key set and result.
        # TYPE gateway_key_fetches_total counter
        gateway_key_fetches_total{keys="https://idp.example/jwks",result="ok"} 0
        gateway_key_fetches_total{keys="https://idp.example/jwks",result="error"} 1
        # HELP gateway_build_info Build information; always 1.
        # TYPE gateway_build_info gauge
        gateway_build_info{version="0.1.0"} 1

        """
        let got = text.split(separator: "\n", omittingEmptySubsequences: false)
        let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, (g, w)) in zip(got, want).enumerated() {
            #expect(g == w, "line \(i + 1)")
        }
        #expect(got.count == want.count)
        #expect(text.hasSuffix("\n"))
    }

    @Test func histogramBucketsAreCumulativeAndMonotonic() {
        let w = WorkerMetrics(routeCount: 0, upstreamCount: 1)
        for us: Int64 in [500, 2_000, 4_000, 9_000, 20_000, 40_000, 90_000, 200_000, 400_000,
                          900_000, 2_000_000, 4_000_000, 9_000_000, 20_000_000] {
            w.observeUpstreamDuration(upstream: 0, microseconds: us)
        }
        var text = ""
        PrometheusRenderer.render(workers: [w], process: ProcessMetrics(version: "v"), routeNames: [],
                                  upstreamNames: ["u"], nowMs: 0, into: &text)
        let counts = text.split(separator: "\n")
            .filter { $0.hasPrefix("gateway_upstream_request_duration_seconds_bucket") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
        #expect(counts == Array(1...14))
    }

    @Test func workersOfAnOlderGenerationDoNotCrash() {
        // After a reload, a worker may still hold tables sized for fewer routes.
        let old = WorkerMetrics(routeCount: 1, upstreamCount: 0)
        let new = WorkerMetrics(routeCount: 3, upstreamCount: 2)
        old.countRequest(route: 0, status: 200)
        new.countRequest(route: 2, status: 200)
        var text = ""
        PrometheusRenderer.render(workers: [old, new], process: ProcessMetrics(version: "v"),
                                  routeNames: ["/", "/a", "/b"], upstreamNames: ["x", "y"], nowMs: 0, into: &text)
        #expect(text.contains("gateway_requests_total{route=\"/\",status=\"200\"} 1\n"))
        #expect(text.contains("gateway_requests_total{route=\"/b\",status=\"200\"} 1\n"))
    }

    @Test func labelValueEscaping() {
        var s = ""
        PrometheusRenderer.appendLabelValue("a\\b\"c\nd é", into: &s)
        #expect(s == #"a\\b\"c\nd é"#)

        var line = ""
        PrometheusRenderer.appendSample("m", [("k", "x\"y"), ("l", "\\")], value: "1", into: &line)
        #expect(line == #"m{k="x\"y",l="\\"} 1"# + "\n")

        // Through render: a route prefix and version holding special characters.
        var text = ""
        let w = WorkerMetrics(routeCount: 1, upstreamCount: 0)
        w.countRequest(route: 0, status: 200)
        PrometheusRenderer.render(workers: [w], process: ProcessMetrics(version: "1\n\"2\""),
                                  routeNames: ["/a\"b\\"], upstreamNames: [], nowMs: 0, into: &text)
        #expect(text.contains(#"gateway_requests_total{route="/a\"b\\",status="200"} 1"#))
        #expect(text.contains(#"gateway_build_info{version="1\n\"2\""} 1"#))
    }

    @Test func helpEscaping() {
        var s = ""
        PrometheusRenderer.appendHeader("m", help: "a\\b\nc \"q\"", type: "gauge", into: &s)
        #expect(s == "# HELP m a\\\\b\\nc \"q\"\n# TYPE m gauge\n")
    }

    @Test func exactDecimals() {
        #expect(PrometheusRenderer.decimal(0, fractionDigits: 6) == "0")
        #expect(PrometheusRenderer.decimal(1_500, fractionDigits: 6) == "0.0015")
        #expect(PrometheusRenderer.decimal(2_000_000, fractionDigits: 6) == "2")
        #expect(PrometheusRenderer.decimal(12_030_800, fractionDigits: 6) == "12.0308")
        #expect(PrometheusRenderer.decimal(1, fractionDigits: 3) == "0.001")
        #expect(PrometheusRenderer.decimal(-1_250, fractionDigits: 3) == "-1.25")
        #expect(PrometheusRenderer.decimal(7, fractionDigits: 0) == "7")
    }
}
