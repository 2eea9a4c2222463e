import ArgumentParser
import GatewayAuth
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

/// `gateway token mint|inspect`: development and debugging aids (SPEC §2).
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a token for development, or inspect one.",
        subcommands: [Mint.self, Inspect.self])
}

private var wallClockSeconds: Int64 { Int64(time(nil)) }

struct Mint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a token signed with refresh.signing_key (or --kid).")
    @OptionGroup var options: ConfigOption
    @Option(help: "Subject (claim sub).") var sub: String
    @Option(help: "Lifetime, e.g. 15m, 1h.") var ttl: String = "15m"
    @Option(help: "Sign with this [[keys]] kid instead of refresh.signing_key.") var kid: String?
    @Option(name: .customLong("claim"), help: "Extra claim NAME=VALUE (VALUE as JSON when it parses). Repeatable.")
    var claims: [String] = []

    func run() throws {
        let (config, keys) = try ConfigLoading.load(options.config)
        let ttlMs: Int64
        do { ttlMs = try DurationText.milliseconds(ttl) } catch {
            printError("--ttl \(ttl): \(error)")
            throw ExitCode(1)
        }
        do {
            print(try DevelopmentToken.mint(config: config, keys: keys.keySet, sub: sub, ttlSeconds: ttlMs / 1000,
                                            kid: kid, claims: claims, now: wallClockSeconds))
        } catch {
            printError("gateway token mint: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a token's header and claims; with --config, whether it verifies and how long it has left.")
    @Argument(help: "The token (compact JWS).") var token: String
    @Option(name: .long, help: "Configuration to verify against.") var config: String?

    func run() throws {
        guard let (header, claims) = DevelopmentToken.decodeUnverified(token) else {
            printError("not a JWS compact token with JSON header and claims")
            throw ExitCode(1)
        }
        print("header: " + DevelopmentToken.render(header))
        print("claims: " + DevelopmentToken.render(claims))
        guard let config else { return }
        let (cfg, keys) = try ConfigLoading.load(config)
        let now = wallClockSeconds
        let verifier = JWTVerifier(keys: keys.keySet, tokens: cfg.tokens)
        switch verifier.verify(Array(token.utf8), scopes: [], now: now) {
        case .success(let t):
            let left = t.exp - now
            print("verifies: yes (key \(t.kid ?? "-"), \(t.algorithm.name))")
            print(left >= 0 ? "expires in: \(DurationText.format(milliseconds: left * 1000))"
                            : "expired \(DurationText.format(milliseconds: -left * 1000)) ago (within leeway)")
        case .failure(let f):
            print("verifies: no (\(f.errorCode): \(f.description))")
            throw ExitCode(2)
        }
    }
}
