import Foundation
import GatewayAuth
import Synchronization
import Testing
@testable import GatewayCore
@testable import GatewayProxy
import GatewayLoop

/// KeyRefresher on a real loop against a loopback JWKS server that counts
/// requests. Ed25519 JWKs keep the documents small (HMAC keys are never
/// taken from a URL).
@Suite(.serialized) struct KeysRefresherTests {
    /// RFC 8037 A.2's public key.
    static let ed25519X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

    static func jwks(_ kids: [String], extra: String = "") -> String {
        let keys = kids.map { "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"\($0)\",\"alg\":\"EdDSA\",\"x\":\"\(ed25519X)\"}" }
        return "{\"keys\":[" + (keys + (extra.isEmpty ? [] : [extra])).joined(separator: ",") + "]}"
    }

    static func urlConfig(_ url: String, refreshMs: Int64 = 300_000, alg: String? = nil) -> KeyConfig {
        KeyConfig(kid: nil, alg: alg, source: .jwksURL(url: url, refreshIntervalMs: refreshMs, fetchTimeoutMs: 2_000,
                                                       caFile: nil), line: 1)
    }

    // MARK: Labels

    @Test func metricLabels() {
        #expect(KeyRefresher.metricLabel(.secretEnv("HS")) == "env:HS")
        #expect(KeyRefresher.metricLabel(.publicKeyFile("/k.pem")) == "/k.pem")
        #expect(KeyRefresher.metricLabel(Self.urlConfig("https://idp/jwks").source) == "https://idp/jwks")
        let configs = [
            KeyConfig(kid: "a", alg: "HS256", source: .secretEnv("HS"), line: 1),
            Self.urlConfig("https://idp/jwks"),
            KeyConfig(kid: nil, alg: nil, source: .jwksFile("/j.json"), line: 3),
        ]
        #expect(KeyRefresher.staticLabels(of: configs) == ["env:HS", "/j.json"])
    }

    // MARK: Start, schedule, failures

    @Test func firstFetchPublishesAndMakesReady() throws {
        let server = try JWKSTestServer(body: Self.jwks(["k1", "k2"]))
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url)], staticLabels: ["env:HS"])
        defer { h.stop() }
        #expect(h.onLoop { $0.notReadyReasons } == ["keys \(server.url): no key set fetched yet"])
        h.onLoop { $0.start() }
        try h.waitFor("first publish") { h.published.count == 1 }
        let set = h.published[0]
        #expect(set.key(kid: "k1") != nil && set.key(kid: "k2") != nil)
        #expect(h.onLoop { $0.notReadyReasons }.isEmpty)
        #expect(h.metrics.keyFetches(server.url) == (ok: 1, error: 0))
        #expect(h.metrics.keySetAgeSeconds(server.url, nowMs: h.nowMs()).map { $0 < 60 } == true)
        #expect(h.metrics.keySetAgeSeconds("env:HS", nowMs: h.nowMs()).map { $0 < 60 } == true)
    }

    @Test func refusedJWKIsSkippedTheRestServes() throws {
        let noKid = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"x\":\"\(Self.ed25519X)\"}"
        let server = try JWKSTestServer(body: Self.jwks(["good"], extra: noKid))
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("publish") { h.published.count == 1 }
        #expect(h.published[0].count == 1)
        #expect(h.published[0].key(kid: "good") != nil)
    }

    @Test func failuresRetryWithBackoffAndCount() throws {
        let server = try JWKSTestServer(body: "not json", status: 200)
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        // 1 s backoff after the first failure: the second attempt comes ~1 s later.
        try h.waitFor("two failed fetches", seconds: 4) { h.metrics.keyFetches(server.url).error >= 2 }
        #expect(h.published.isEmpty)
        #expect(h.onLoop { $0.notReadyReasons }.count == 1)
        #expect(h.metrics.keySetAgeSeconds(server.url, nowMs: h.nowMs()) == .infinity)
        // The server recovers: the next retry (2 s) publishes.
        server.set(body: Self.jwks(["late"]))
        try h.waitFor("publish after recovery", seconds: 5) { h.published.count == 1 }
        #expect(h.onLoop { $0.notReadyReasons }.isEmpty)
    }

    @Test func failedRefreshKeepsTheLastGoodSet() throws {
        let server = try JWKSTestServer(body: Self.jwks(["k1"]))
        defer { server.stop() }
        // A 1 s refresh interval (max-age=60 from the server is capped by it).
        let h = try Harness(urls: [Self.urlConfig(server.url, refreshMs: 1_000)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("publish") { h.published.count == 1 }
        server.set(status: 500)
        try h.waitFor("a failed refresh", seconds: 4) { h.metrics.keyFetches(server.url).error >= 1 }
        #expect(h.published.count == 1)
        #expect(h.onLoop { $0.current.key(kid: "k1") != nil })
        #expect(h.onLoop { $0.notReadyReasons }.isEmpty)
    }

    @Test func sameDocumentDoesNotRepublish() throws {
        let server = try JWKSTestServer(body: Self.jwks(["k1"]))
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url, refreshMs: 300)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("three good fetches", seconds: 4) { h.metrics.keyFetches(server.url).ok >= 3 }
        #expect(h.published.count == 1)
    }

    // MARK: Unknown-kid trigger

    @Test func triggerFetchesAtOnceThenThrottles() throws {
        let server = try JWKSTestServer(body: Self.jwks(["old"]))
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("publish") { h.published.count == 1 }
        server.set(body: Self.jwks(["new"]))
        #expect(try h.refetch() == true)
        #expect(h.published.count == 2)
        #expect(h.published[1].key(kid: "new") != nil)
        #expect(h.published[1].key(kid: "old") == nil)
        let before = server.requests
        // Within 30 s of the last triggered fetch: no fetch, false at once.
        #expect(try h.refetch() == false)
        #expect(server.requests == before)
    }

    @Test func concurrentTriggersShareOneFetch() throws {
        let server = try JWKSTestServer(body: Self.jwks(["old"]))
        defer { server.stop() }
        let h = try Harness(urls: [Self.urlConfig(server.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("publish") { h.published.count == 1 }
        server.set(body: Self.jwks(["new"]), delayMs: 300)
        let before = server.requests
        let answers = Mutex<[Bool]>([])
        let all = DispatchSemaphore(value: 0)
        let refresher = h.refresher
        for _ in 0..<20 {
            refresher.requestRefetch { changed in
                let n = answers.withLock { $0.append(changed); return $0.count }
                if n == 20 { all.signal() }
            }
        }
        #expect(all.wait(timeout: .now() + 5) == .success)
        #expect(answers.withLock { $0 } == Array(repeating: true, count: 20))
        #expect(server.requests == before + 1)
    }

    @Test func triggerWithoutURLsAnswersFalse() throws {
        let h = try Harness(urls: [])
        defer { h.stop() }
        h.onLoop { $0.start() }
        #expect(try h.refetch() == false)
    }

    // MARK: Reload

    @Test func applyKeepsFetchedSetsOfRetainedURLs() throws {
        let a = try JWKSTestServer(body: Self.jwks(["a1"]))
        let b = try JWKSTestServer(body: Self.jwks(["b1"]))
        defer { a.stop(); b.stop() }
        let h = try Harness(urls: [Self.urlConfig(a.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("publish a") { h.published.count == 1 }
        let requestsA = a.requests
        let staticKey = try VerificationKey.hmac(secret: Array(repeating: 7, count: 32), algorithm: .hs256,
                                                 kid: "static", source: "env:HS")
        let base = try KeySet(keys: [staticKey])
        h.onLoop { $0.apply(base: base, urls: [Self.urlConfig(a.url), Self.urlConfig(b.url)], staticLabels: ["env:HS"]) }
        // Published at once with a's keys kept (no refetch of a), then again with b's.
        #expect(h.published.count >= 2)
        #expect(h.published[1].key(kid: "a1") != nil && h.published[1].key(kid: "static") != nil)
        try h.waitFor("publish b") { h.published.last?.key(kid: "b1") != nil }
        #expect(a.requests == requestsA)
        // Dropping a: its keys go at once.
        h.onLoop { $0.apply(base: base, urls: [Self.urlConfig(b.url)], staticLabels: ["env:HS"]) }
        #expect(h.published.last?.key(kid: "a1") == nil)
        #expect(h.published.last?.key(kid: "b1") != nil)
        #expect(h.onLoop { $0.urls } == [b.url])
    }

    @Test func kidCollidingWithAStaticKeyIsAFailedFetch() throws {
        let server = try JWKSTestServer(body: Self.jwks(["static"]))
        defer { server.stop() }
        let staticKey = try VerificationKey.hmac(secret: Array(repeating: 7, count: 32), algorithm: .hs256,
                                                 kid: "static", source: "env:HS")
        let h = try Harness(base: try KeySet(keys: [staticKey]), urls: [Self.urlConfig(server.url)])
        defer { h.stop() }
        h.onLoop { $0.start() }
        try h.waitFor("a failed fetch") { h.metrics.keyFetches(server.url).error >= 1 }
        #expect(h.published.isEmpty)
        #expect(h.onLoop { $0.notReadyReasons }.count == 1)
    }
}

/// A refresher on its own loop thread; records every published set.
final class Harness: @unchecked Sendable {  // refresher touched only via onLoop / requestRefetch
    let loop: EventLoop
    let metrics = ProcessMetrics(version: "test")
    let refresher: KeyRefresher
    private final class Recorder: Sendable { let sets = Mutex<[KeySet]>([]) }
    private let recorder = Recorder()
    private let exited = DispatchSemaphore(value: 0)

    init(base: KeySet = .empty, urls: [KeyConfig], staticLabels: [String] = []) throws {
        loop = try EventLoop()
        let recorder = self.recorder
        refresher = KeyRefresher(loop: loop, base: base, urls: urls, metrics: metrics, staticLabels: staticLabels) { set in
            recorder.sets.withLock { $0.append(set) }
        }
        let loop = self.loop
        let exited = self.exited
        OSThread.spawn(name: "test-admin") {
            loop.run()
            exited.signal()
        }
    }

    var published: [KeySet] { recorder.sets.withLock { $0 } }

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (KeyRefresher) -> T) -> T {
        let box = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let r = refresher
        loop.post {
            box.withLock { $0 = body(r) }
            done.signal()
        }
        done.wait()
        return box.withLock { $0 }!
    }

    func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// One requestRefetch, waited for.
    func refetch() throws -> Bool {
        let box = Mutex<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        refresher.requestRefetch { changed in
            box.withLock { $0 = changed }
            done.signal()
        }
        guard done.wait(timeout: .now() + 5) == .success, let v = box.withLock({ $0 }) else {
            throw HTTPFetchTests.HarnessError.noCompletion
        }
        return v
    }

    func waitFor(_ what: String, seconds: Double = 3, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            usleep(20_000)
        }
        Issue.record("timed out waiting for \(what)")
        throw HTTPFetchTests.HarnessError.noCompletion
    }

    func stop() {
        let r = refresher
        let loop = self.loop
        loop.post {
            r.stop()
            loop.stop()
        }
        _ = exited.wait(timeout: .now() + 5)
    }
}

/// Loopback HTTP server answering every request with the current status
/// and body (Cache-Control: max-age=60), one connection at a time.
final class JWKSTestServer: @unchecked Sendable {  // fd/port fixed after init; state behind a Mutex
    private struct State { var status: Int; var body: String; var delayMs = 0; var requests = 0; var stopped = false }
    let port: UInt16
    private let fd: Int32
    private let state: Mutex<State>
    private let exited = DispatchSemaphore(value: 0)

    var url: String { "http://127.0.0.1:\(port)/jwks.json" }
    var requests: Int { state.withLock { $0.requests } }

    init(body: String, status: Int = 200) throws {
        state = Mutex(State(status: status, body: body))
        let (fd, port): (Int32, UInt16)
        do { (fd, port) = try LoopbackListener.open(backlog: 64) } catch { throw HTTPFetchTests.HarnessError.socket("listen") }
        self.fd = fd
        self.port = port
        OSThread.spawn(name: "test-jwks") { [self] in self.serve() }
    }

    func set(body: String? = nil, status: Int? = nil, delayMs: Int? = nil) {
        state.withLock { s in
            if let body { s.body = body }
            if let status { s.status = status }
            if let delayMs { s.delayMs = delayMs }
        }
    }

    func stop() {
        state.withLock { $0.stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        _ = exited.wait(timeout: .now() + 5)
        close(fd)
    }

    private func serve() {
        defer { exited.signal() }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if state.withLock({ $0.stopped }) { return }
                continue
            }
            let got = LoopbackListener.readHead(c, timeoutSeconds: 2)
            let s = state.withLock { s -> State in s.requests += 1; return s }
            if s.delayMs > 0 { usleep(UInt32(s.delayMs) * 1000) }
            let body = Array(s.body.utf8)
            let head = "HTTP/1.1 \(s.status) X\r\nContent-Type: application/json\r\nCache-Control: max-age=60\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            let out = Array(head.utf8) + body
            _ = out.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(c)
        }
    }
}
