import Foundation
import Synchronization
import Testing
@testable import GatewayCore
@testable import GatewayProxy
import GatewayLoop

/// HTTPFetch against real loopback servers: a scripted one-connection
/// server for framing and failures, `openssl s_server` for TLS.
@Suite struct HTTPFetchTests {
    // MARK: Pure helpers

    @Test(arguments: [
        ("max-age=120", Int64(120)),
        ("public, max-age=60", 60),
        ("MAX-AGE=5, must-revalidate", 5),
        ("max-age=\"90\"", 90),
        ("private=\"a, max-age=1\", max-age=300", 300),
        ("max-age=0", 0),
        ("max-age=99999999999999999999", 1 << 31),
        ("max-age=10, max-age=10", 10),
    ])
    func maxAgeFound(value: String, seconds: Int64) {
        #expect(HTTPFetch.maxAgeSeconds(value) == seconds)
    }

    @Test(arguments: ["", "no-cache", "s-maxage=60", "max-age=", "max-age=-1", "max-age=1.5",
                      "max-age=10, max-age=20", "max-age"])
    func maxAgeAbsentOrInvalid(value: String) {
        #expect(HTTPFetch.maxAgeSeconds(value) == nil)
    }

    @Test func cacheControlFieldsAreJoined() throws {
        let raw = "HTTP/1.1 200 OK\r\nCache-Control: public\r\nContent-Length: 0\r\ncache-control: max-age=45\r\n\r\n"
        var parser = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false), maxHeadBytes: 4096)
        let bytes = Array(raw.utf8)
        let step = bytes.withUnsafeBytes { parser.parse($0) }
        guard case .complete(let head, _) = step else {
            Issue.record("head did not parse: \(step)")
            return
        }
        #expect(HTTPFetch.cacheControl(of: head) == "public, max-age=45")
        #expect(HTTPFetch.Response(status: 200, cacheControl: HTTPFetch.cacheControl(of: head), body: []).maxAgeSeconds == 45)
    }

    // MARK: Framing

    @Test func contentLengthBodyAndRequestShape() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                                         "Cache-Control: public, max-age=120\r\nContent-Length: 11\r\n\r\n",
                                         "{\"keys\":[]}"])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/jwks?x=1")
        let response = try result.get()
        #expect(response.status == 200)
        #expect(response.body == Array("{\"keys\":[]}".utf8))
        #expect(response.maxAgeSeconds == 120)
        let request = String(decoding: server.request(), as: UTF8.self)
        #expect(request.hasPrefix("GET /jwks?x=1 HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("\r\nConnection: close\r\n"))
        #expect(request.contains("\r\nAccept: application/json\r\n"))
        #expect(request.hasSuffix("\r\n\r\n"))
    }

    @Test func chunkedBodyInPieces() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                         "5\r\nhello\r\n", "6;ext=1\r\n wor", "ld\r\n0\r\n\r\n"])
        let response = try Self.fetch("http://127.0.0.1:\(server.port)/").get()
        #expect(String(decoding: response.body, as: UTF8.self) == "hello world")
        #expect(response.maxAgeSeconds == nil)
    }

    @Test func bodyUntilClose() throws {
        let server = try ScriptedServer(["HTTP/1.0 200 ok\r\nContent-Type: text/plain\r\n\r\n", "abc", "def"])
        let response = try Self.fetch("http://127.0.0.1:\(server.port)/").get()
        #expect(response.body == Array("abcdef".utf8))
    }

    @Test func interimResponseIsSkipped() throws {
        let server = try ScriptedServer(["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
        let response = try Self.fetch("http://127.0.0.1:\(server.port)/").get()
        #expect(response.status == 200)
        #expect(response.body == Array("ok".utf8))
    }

    @Test func nonOKStatusIsReportedNotFailed() throws {
        let server = try ScriptedServer(["HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"])
        let response = try Self.fetch("http://127.0.0.1:\(server.port)/").get()
        #expect(response.status == 404)
    }

    // MARK: Failures

    @Test func contentLengthOverTheLimit() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", String(repeating: "x", count: 20)])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/", maxBodyBytes: 10)
        #expect(Self.failure(result)?.contains("limit") == true)
    }

    @Test func chunkedOverTheLimit() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                         "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/", maxBodyBytes: 10)
        #expect(Self.failure(result)?.contains("limit") == true)
    }

    @Test func untilCloseOverTheLimit() throws {
        let server = try ScriptedServer(["HTTP/1.0 200 OK\r\n\r\n", String(repeating: "y", count: 64)])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/", maxBodyBytes: 10)
        #expect(Self.failure(result)?.contains("limit") == true)
    }

    @Test func truncatedBodyFails() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/")
        #expect(Self.failure(result)?.contains("ended early") == true)
    }

    @Test func badChunkFails() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/")
        #expect(Self.failure(result)?.contains("chunked") == true)
    }

    @Test func malformedHeadFails() throws {
        let server = try ScriptedServer(["SSH-2.0-OpenSSH\r\n\r\n"])
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/")
        #expect(Self.failure(result)?.contains("bad response head") == true)
    }

    @Test func refusedConnectionFails() throws {
        let port = try ScriptedServer.unusedPort()
        let result = try Self.fetch("http://127.0.0.1:\(port)/")
        #expect(Self.failure(result)?.contains("connect to 127.0.0.1:\(port)") == true)
    }

    @Test func unresolvableHostFails() throws {
        let result = try Self.fetch("http://no-such-host.invalid/")
        #expect(Self.failure(result)?.contains("cannot resolve") == true)
    }

    @Test func deadlineBoundsASilentServer() throws {
        let server = try ScriptedServer([], holdMs: 1_000)
        let started = ContinuousClock.now
        let result = try Self.fetch("http://127.0.0.1:\(server.port)/", timeoutMs: 300)
        #expect(Self.failure(result)?.contains("within 300 ms") == true)
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func cancelledFetchNeverCompletes() throws {
        let server = try ScriptedServer([], holdMs: 1_000)
        let target = try HTTPFetch.Target.parse("http://127.0.0.1:\(server.port)/")
        let calls = Atomic<Int>(0)
        let ran = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        OSThread.spawn(name: "test-loop") {
            guard let loop = try? EventLoop() else { done.signal(); return }
            ran.store(true, ordering: .relaxed)
            let fetch = HTTPFetch(loop: loop, target: target, tls: nil, timeoutMs: 100) { _ in
                calls.add(1, ordering: .relaxed)
            }
            fetch.start()
            fetch.cancel()
            let stopper = Timer(loop: loop) { loop.stop() }
            stopper.schedule(afterMs: 300)
            loop.run()
            withExtendedLifetime((fetch, stopper)) {}
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 5) == .success)
        let loopRan = ran.load(ordering: .relaxed)
        #expect(loopRan, "no event loop: the fetch never ran")
        #expect(calls.load(ordering: .relaxed) == 0)
    }

    // MARK: names (evdns on the loop)

    /// A name from /etc/hosts answers on the loop, with no thread of its own.
    @Test func nameFromTheHostsFileResolvesOnTheLoop() throws {
        let server = try ScriptedServer(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
        let response = try Self.fetch("http://localhost:\(server.port)/").get()
        #expect(response.body == Array("ok".utf8))
    }

    // MARK: TLS (openssl s_server -WWW serves files from its directory)

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func tlsWithCAFileAndMatchingNames() throws {
        let tls = try TLSServer(san: "DNS:localhost,IP:127.0.0.1")
        defer { tls.stop() }
        let context = try TLSContext(caFile: tls.certificatePath)
        let byIP = try Self.fetch("https://127.0.0.1:\(tls.port)/jwks.json", tls: context).get()
        #expect(byIP.status == 200)
        #expect(byIP.body == Array(TLSServer.document.utf8))
        // "localhost" may resolve to ::1 first, where nothing listens: the
        // fetch falls back to 127.0.0.1 and checks the name, not the IP.
        let byName = try Self.fetch("https://localhost:\(tls.port)/jwks.json", tls: context).get()
        #expect(byName.body == Array(TLSServer.document.utf8))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func tlsRefusesACertificateForAnotherHost() throws {
        let tls = try TLSServer(san: "DNS:other.example")
        defer { tls.stop() }
        let context = try TLSContext(caFile: tls.certificatePath)
        let result = try Self.fetch("https://127.0.0.1:\(tls.port)/jwks.json", tls: context)
        #expect(Self.failure(result)?.contains("TLS") == true)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func tlsRefusesAnUntrustedCertificate() throws {
        let tls = try TLSServer(san: "IP:127.0.0.1")
        defer { tls.stop() }
        let other = try TLSServer.makeCertificate(in: tls.directory, name: "unrelated", san: "IP:127.0.0.1")
        let context = try TLSContext(caFile: other)
        let result = try Self.fetch("https://127.0.0.1:\(tls.port)/jwks.json", tls: context)
        #expect(Self.failure(result)?.contains("TLS") == true)
    }

    // MARK: Harness

    static func failure(_ result: Result<HTTPFetch.Response, HTTPFetch.Failure>) -> String? {
        if case .failure(let f) = result { return f.reason }
        return nil
    }

    /// Runs one fetch on a fresh loop on its own thread; waits up to 10 s.
    static func fetch(_ url: String, tls: TLSContext? = nil, timeoutMs: Int64 = 3_000,
                      maxBodyBytes: Int = HTTPFetch.defaultMaxBodyBytes) throws -> Result<HTTPFetch.Response, HTTPFetch.Failure> {
        let target = try HTTPFetch.Target.parse(url)
        let box = Mutex<Result<HTTPFetch.Response, HTTPFetch.Failure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        OSThread.spawn(name: "test-loop") {
            guard let loop = try? EventLoop() else { done.signal(); return }
            let fetch = HTTPFetch(loop: loop, target: target, tls: tls, timeoutMs: timeoutMs,
                                  maxBodyBytes: maxBodyBytes) { result in
                box.withLock { $0 = result }
                loop.stop()
            }
            fetch.start()
            loop.run()
            withExtendedLifetime(fetch) {}
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success, let result = box.withLock({ $0 }) else {
            throw HarnessError.noCompletion
        }
        return result
    }

    enum HarnessError: Error { case noCompletion, socket(String), openssl(String) }
}

/// One connection on a loopback port: reads the request head, writes the
/// scripted pieces (20 ms apart, so the client sees them split), holds the
/// connection `holdMs`, closes.
final class ScriptedServer: @unchecked Sendable {  // fd and port fixed after init; request behind a Mutex
    let port: UInt16
    private let fd: Int32
    private let received = Mutex<[UInt8]>([])
    private let finished = DispatchSemaphore(value: 0)

    init(_ pieces: [String], holdMs: Int = 0) throws {
        let (fd, port): (Int32, UInt16)
        do { (fd, port) = try LoopbackListener.open(backlog: 4) } catch { throw HTTPFetchTests.HarnessError.socket("listen") }
        self.fd = fd
        self.port = port
        OSThread.spawn(name: "test-server") { [self] in self.serve(pieces, holdMs: holdMs) }
    }

    deinit {
        _ = finished.wait(timeout: .now() + 5)
        close(fd)
    }

    func request() -> [UInt8] {
        _ = finished.wait(timeout: .now() + 5)
        finished.signal()
        return received.withLock { $0 }
    }

    private func serve(_ pieces: [String], holdMs: Int) {
        defer { finished.signal() }
        let c = accept(fd, nil, nil)
        guard c >= 0 else { return }
        defer { close(c) }
        let got = LoopbackListener.readHead(c, timeoutSeconds: 5)
        received.withLock { $0 = got }
        for (i, p) in pieces.enumerated() {
            if i > 0 { usleep(20_000) }
            let bytes = Array(p.utf8)
            _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        if holdMs > 0 { usleep(UInt32(holdMs) * 1000) }
    }

    /// A loopback port nothing listens on (bound without listen, then closed).
    static func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard fd >= 0, ok else { throw HTTPFetchTests.HarnessError.socket("bind") }
        return UInt16(bigEndian: addr.sin_port)
    }
}

/// `openssl s_server -WWW` on a loopback port with a fresh self-signed
/// certificate (subjectAltName `san`), serving `jwks.json`. Spawned with
/// posix_spawn and stopped with SIGKILL (s_server ignores SIGTERM while it
/// waits in accept).
final class TLSServer {
    static let document = "{\"keys\":[]}"
    let directory: String
    let certificatePath: String
    let port: UInt16
    private var pid: pid_t = 0

    init(san: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(Self.document.utf8).write(to: URL(fileURLWithPath: directory + "/jwks.json"))
        certificatePath = try Self.makeCertificate(in: directory, name: "server", san: san)
        port = try ScriptedServer.unusedPort()
        pid = try Self.spawn("cd '\(directory)' && exec /usr/bin/openssl s_server -quiet -WWW -accept 127.0.0.1:\(port)"
                             + " -cert server.crt -key server.key")
        // Ready once it accepts a TCP connection.
        for _ in 0..<100 {
            if Self.accepts(port) { return }
            usleep(50_000)
        }
        stop()
        throw HTTPFetchTests.HarnessError.openssl("s_server did not start")
    }

    func stop() {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A self-signed P-256 certificate; returns its path (key beside it).
    static func makeCertificate(in directory: String, name: String, san: String) throws -> String {
        let pid = try spawn("cd '\(directory)' && exec /usr/bin/openssl req -x509 -newkey ec"
                            + " -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(name).key -out \(name).crt"
                            + " -days 1 -subj /CN=\(name) -addext subjectAltName=\(san)")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { throw HTTPFetchTests.HarnessError.openssl("req failed") }
        return directory + "/\(name).crt"
    }

    /// `/bin/sh -c command` with stdout and stderr on /dev/null.
    private static func spawn(_ command: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let args: [UnsafeMutablePointer<CChar>?] = ["/bin/sh", "-c", command].map { (s: String) in strdup(s) }
        defer { args.forEach { free($0) } }
        var argv = args + [nil]
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ)
        guard rc == 0 else { throw HTTPFetchTests.HarnessError.openssl("spawn failed: \(rc)") }
        return pid
    }

    private static func accepts(_ port: UInt16) -> Bool {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(c) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        return withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
