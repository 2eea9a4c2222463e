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
}
