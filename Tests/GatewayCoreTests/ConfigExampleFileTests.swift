import Foundation
import Testing
@testable import GatewayCore

/// The top-level `gateway.conf` is the demo's config and the reference
/// documentation: it must load once the demo has generated keys/gw-1.pem.
@Suite struct ConfigExampleFileTests {
    static let exampleText: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return try? String(contentsOf: root.appendingPathComponent("gateway.conf"), encoding: .utf8)
    }()

    /// A fresh directory holding the example as gateway.conf, optionally with a dummy key file.
    func directory(withKey: Bool) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
        let text = try #require(Self.exampleText)
        try text.write(to: dir.appendingPathComponent("gateway.conf"), atomically: true, encoding: .utf8)
        if withKey {
            // Content is GatewayAuth's concern; the loader only needs the file to exist.
            try "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"
                .write(to: dir.appendingPathComponent("keys/gw-1.pem"), atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test func loadsOnceTheDemoKeyExists() throws {
        let dir = try directory(withKey: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gateway.conf").path
        let config = try ConfigLoader.load(path: path, environment: [:], coreCount: 2)
        #expect(config.server.listen == [SocketAddressSpec(host: "127.0.0.1", port: 8080)])
        #expect(config.server.workers == 2)
        #expect(config.admin.listen == SocketAddressSpec(host: "127.0.0.1", port: 9901))
        #expect(config.admin.tokenEnv == "GATEWAY_ADMIN_TOKEN")
        #expect(config.upstreams["app"]?.servers == [SocketAddressSpec(host: "127.0.0.1", port: 9000)])
        #expect(config.routes.map(\.prefix) == ["/public/", "/"])
        #expect(config.routes.map(\.auth) == [.none, .required])
        #expect(config.tokens.issuers == ["https://auth.example.com"])
        #expect(config.tokens.audiences == ["api"])
        #expect(config.tokens.forwardClaims.map(\.claim) == ["sub"])
        #expect(config.keys == [KeyConfig(kid: "gw-1", alg: "ES256",
                                          source: .privateKeyFile(dir.appendingPathComponent("keys/gw-1.pem").path),
                                          line: config.keys.first?.line ?? -1)])
        #expect(config.refresh.enabled)
        #expect(config.refresh.signingKey == "gw-1")
        #expect(config.sessions == nil)
        #expect(config.store.stateDir == dir.appendingPathComponent("state").path)
    }

    @Test func withoutTheKeyItSaysWhichLine() throws {
        let dir = try directory(withKey: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gateway.conf").path
        let errors = try #require(throws: ConfigErrors.self) {
            try ConfigLoader.load(path: path, environment: [:], coreCount: 2)
        }
        let text = try #require(Self.exampleText)
        let keyLine = text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("private_key_file") }.map { $0 + 1 }
        #expect(errors.errors.map(\.line) == [keyLine])
        #expect(errors.errors.first?.file == path)
    }

    /// The commented-out [sessions] and [store] blocks are valid when uncommented.
    @Test func commentedReferenceBlocksAreValid() throws {
        let text = try #require(Self.exampleText)
        var out: [Substring] = []
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "# [sessions]" || line == "# [store]" { inBlock = true }
            if line.isEmpty { inBlock = false }
            out.append(inBlock ? line.dropFirst(2) : line)
        }
        let config = try ConfigLoader.parse(text: out.joined(separator: "\n"), path: "/srv/gw/gateway.conf",
                                            environment: [:], coreCount: 1, fileExists: { _ in true })
        #expect(config.sessions == SessionsConfig())
        #expect(config.store.redis == "redis://127.0.0.1:6379/0")
        #expect(config.store.redisPasswordEnv == "GATEWAY_REDIS_PASSWORD")
        #expect(config.store.stateDir == "/srv/gw/state")
    }

    @Test func unreadableFile() throws {
        let errors = try #require(throws: ConfigErrors.self) {
            try ConfigLoader.load(path: "/nonexistent/gateway.conf", environment: [:], coreCount: 1)
        }
        #expect(errors.description == "/nonexistent/gateway.conf: no such file")
    }
}
