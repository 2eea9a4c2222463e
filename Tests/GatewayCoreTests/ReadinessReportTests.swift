import Testing
@testable import GatewayCore

@Suite struct ReadinessReportTests {
    @Test func readyExactlyAsSpec() {
        let r = ReadinessReport(reasons: [], degraded: [])
        #expect(r.ready)
        #expect(r.httpStatus == 200)
        #expect(r.json == #"{"ready": true, "reasons": [], "degraded": []}"#)
    }

    @Test func notReadyWithReasons() {
        let r = ReadinessReport(reasons: ["upstream app: no healthy server", "keys https://idp/jwks: not loaded"],
                                degraded: [])
        #expect(!r.ready)
        #expect(r.httpStatus == 503)
        #expect(r.json == #"{"ready": false, "reasons": ["upstream app: no healthy server", "keys https://idp/jwks: not loaded"], "degraded": []}"#)
    }

    @Test func degradedStaysReady() {
        let r = ReadinessReport(reasons: [], degraded: ["store redis: unreachable"])
        #expect(r.httpStatus == 200)
        #expect(r.json == #"{"ready": true, "reasons": [], "degraded": ["store redis: unreachable"]}"#)
    }

    @Test func stringsEscaped() {
        let r = ReadinessReport(ready: false, reasons: ["a \"b\" \\ c\nd"])
        #expect(r.json == #"{"ready": false, "reasons": ["a \"b\" \\ c\nd"], "degraded": []}"#)
    }
}
