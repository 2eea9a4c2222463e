import Testing
@testable import GatewayCore

/// ProcessMetrics.
@Suite struct MetricsProcessTests {
    @Test func reloads() {
        let p = ProcessMetrics(version: "1.2.3")
        p.countConfigReload(succeeded: true)
        p.countConfigReload(succeeded: false)
        p.countConfigReload(succeeded: false)
        #expect(p.configReloads.ok == 1)
        #expect(p.configReloads.error == 2)
    }

    @Test func keySetAges() {
        let p = ProcessMetrics(version: "x")
        p.setKeySets(["https://idp/jwks", "/etc/k.pem"])
        #expect(p.keySetAgeSeconds("https://idp/jwks", nowMs: 10_000) == .infinity)
        p.keySetLoaded("/etc/k.pem", atMs: 1_000)
        #expect(p.keySetAgeSeconds("/etc/k.pem", nowMs: 3_500) == 2.5)
        p.countKeyFetch("https://idp/jwks", succeeded: false, nowMs: 5_000)
        #expect(p.keySetAgeSeconds("https://idp/jwks", nowMs: 10_000) == .infinity)
        p.countKeyFetch("https://idp/jwks", succeeded: true, nowMs: 6_000)
        #expect(p.keySetAgeSeconds("https://idp/jwks", nowMs: 10_000) == 4)
        #expect(p.keyFetches("https://idp/jwks") == (1, 1))
        // A reload that drops a set stops its age, keeps the other's load time.
        p.setKeySets(["https://idp/jwks"])
        #expect(p.keySetAgeSeconds("/etc/k.pem", nowMs: 10_000) == nil)
        #expect(p.keySetAgeSeconds("https://idp/jwks", nowMs: 10_000) == 4)
        #expect(p.keySetAgeSeconds("unknown", nowMs: 0) == nil)
        // A clock step backwards never gives a negative age.
        #expect(p.keySetAgeSeconds("https://idp/jwks", nowMs: 0) == 0)
    }

    @Test func tlsCertificateExpiry() {
        let p = ProcessMetrics(version: "x")
        p.setTLSCertificates([(path: "/c/a.pem", notAfter: 1_000_000), (path: "/c/b.pem", notAfter: 2_000_000)],
                             setsAlive: { 3 })
        #expect(p.tlsCertificateExpirySeconds("/c/a.pem", nowMs: 400_000_000) == 600_000)
        #expect(p.tlsCertificateExpirySeconds("/c/a.pem", nowMs: 1_500_000_000) == -500_000)
        var out = ""
        PrometheusRenderer.render(workers: [], process: p, routeNames: [], upstreamNames: [],
                                  nowMs: 999_000_500, into: &out)
        #expect(out.contains("# TYPE gateway_tls_certificate_expiry_seconds gauge\n"
                             + "gateway_tls_certificate_expiry_seconds{name=\"/c/a.pem\"} 1000\n"
                             + "gateway_tls_certificate_expiry_seconds{name=\"/c/b.pem\"} 1001000\n"))
        #expect(out.contains("gateway_tls_certificate_sets 3\n"))
        // A reload's set replaces the old one whole.
        p.setTLSCertificates([(path: "/c/b.pem", notAfter: 3_000_000)], setsAlive: { 1 })
        #expect(p.tlsCertificateExpirySeconds("/c/a.pem", nowMs: 0) == nil)
        #expect(p.tlsCertificateExpirySeconds("/c/b.pem", nowMs: 0) == 3_000_000)
    }

    @Test func noTLSNoTLSFamilies() {
        var out = ""
        PrometheusRenderer.render(workers: [], process: ProcessMetrics(version: "x"), routeNames: [], upstreamNames: [],
                                  nowMs: 0, into: &out)
        #expect(!out.contains("gateway_tls_"))
    }
}
