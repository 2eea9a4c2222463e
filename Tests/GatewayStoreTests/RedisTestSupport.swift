import Foundation
import Synchronization
import Testing
@testable import GatewayStore
import GatewayAuth

/// A redis-server of a test's own on a free loopback port, in a temporary
/// directory, without persistence. Killed by PID when the test ends.
final class RedisTestServer: @unchecked Sendable {  // unchecked: used from one test at a time
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "redis-server is not on PATH: the Redis store tests need it (scripts/setup.sh --test installs it)"
        }
    }
    struct Failed: Error, CustomStringConvertible { var description: String }

    let port: Int
    let password: String?
    private let dir: URL
    private var process: Process?

    init(password: String? = nil) throws {
        guard let path = Self.which("redis-server") else { throw Missing() }
        self.password = password
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        port = try Self.freePort()
        serverPath = path
        try launch()
    }

    private let serverPath: String

    deinit {
        kill()
        try? FileManager.default.removeItem(at: dir)
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    /// (Re)starts the server on the same port and waits until it answers.
    func launch() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: serverPath)
        var args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", dir.path, "--daemonize", "no", "--loglevel", "warning"]
        if let password { args += ["--requirepass", password] }
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        for _ in 0..<500 {
            if Self.canConnect(port) { return }
            usleep(10_000)
        }
        kill()
        throw Failed(description: "redis-server did not listen on port \(port) within 5 s")
    }

    /// SIGKILL by PID, and reap it.
    func kill() {
        guard let p = process else { return }
        process = nil
        if p.isRunning {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// Sends `signal` to the server (SIGSTOP: a stuck server that keeps its sockets).
    func signal(_ signal: Int32) {
        if let p = process { Glibc.kill(p.processIdentifier, signal) }
    }

    /// Runs redis-cli against this server and returns its output.
    @discardableResult
    func cli(_ args: String...) throws -> String {
        guard let path = Self.which("redis-cli") else { throw Failed(description: "redis-cli is not on PATH") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        var all = ["-p", String(port), "--no-auth-warning"]
        if let password { all += ["-a", password] }
        p.arguments = all + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func which(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        for dir in paths {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard fd >= 0, ok else { throw Failed(description: "no free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private static func canConnect(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass: a
/// deadline against hanging, not a speed check.
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return condition()
}

/// A started store with its feed recorder, up.
func startedStore(_ server: RedisTestServer, prefix: String = "t:", password: String? = nil,
                  log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> (RedisStore, FeedRecorder) {
    let store = try RedisStore(url: server.url, password: password ?? server.password, prefix: prefix, log: log)
    let feed = FeedRecorder()
    store.start(feed: feed.callback)
    let up = await eventually { store.status == .up }
    #expect(up, "store did not come up: \(store.status)")
    _ = await eventually { feed.resetCount >= 1 }
    return (store, feed)
}

extension RedisStore {
    func add(_ target: Revocation.Target, until: Int64, now: Int64) async -> Result<Revocation, StoreError> {
        await withCheckedContinuation { c in
            addRevocation(target, until: until, now: now, on: InlineExecutor()) { c.resume(returning: $0) }
        }
    }

    func delete(_ id: String) async -> Result<Bool, StoreError> {
        await withCheckedContinuation { c in deleteRevocation(id: id, on: InlineExecutor()) { c.resume(returning: $0) } }
    }

    func list(cursor: String?, limit: Int, now: Int64) async -> Result<RevocationPage, StoreError> {
        await withCheckedContinuation { c in
            listRevocations(cursor: cursor, limit: limit, now: now, on: InlineExecutor()) { c.resume(returning: $0) }
        }
    }

    func start(_ s: SessionRecord, token: [UInt8], now: Int64, refreshTTL: Int64) async -> Result<Void, StoreError> {
        await withCheckedContinuation { c in
            startSession(s, refreshTokenHash: token, now: now, refreshTTL: refreshTTL, on: InlineExecutor()) {
                c.resume(returning: $0)
            }
        }
    }

    func use(_ token: [UInt8], successor: [UInt8], now: Int64, grace: Int64 = 30_000,
             refreshTTL: Int64 = 86_400_000) async -> Result<RotateOutcome, StoreError> {
        await withCheckedContinuation { c in
            rotate(refreshTokenHash: token, successorHash: successor, now: now, grace: grace, refreshTTL: refreshTTL,
                   on: InlineExecutor()) { c.resume(returning: $0) }
        }
    }

    func end(_ which: SessionSelector, now: Int64, fallbackUntil: Int64) async -> Result<String?, StoreError> {
        await withCheckedContinuation { c in
            endSession(which, now: now, fallbackUntil: fallbackUntil, on: InlineExecutor()) { c.resume(returning: $0) }
        }
    }
}

extension Result {
    var value: Success? { if case .success(let v) = self { return v }; return nil }
    var error: Failure? { if case .failure(let e) = self { return e }; return nil }
}

extension StoreError {
    var isUnavailable: Bool { if case .unavailable = self { return true }; return false }
}

/// A token hash for tests: SHA-256 of a label.
func tokenHash(_ label: String) -> [UInt8] { SessionCrypto.tokenHash(Array(label.utf8)) }
