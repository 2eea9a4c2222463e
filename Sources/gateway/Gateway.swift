import ArgumentParser
import GatewayAuth
import GatewayCore
import GatewayProxy
#if canImport(Glibc)
import Glibc
#endif

/// `gateway` command line (SPEC §2). Wiring only: each command loads the
/// configuration and hands it to the module that does the work.
@main
struct Gateway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Reverse-proxy authentication gateway: validates JWTs at the edge and refreshes them transparently.",
        version: GatewayCoreVersion.string,
        subcommands: [Run.self, Check.self, Token.self, Revoke.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of the configuration file.")
    var config: String = "gateway.conf"
}

enum ConfigLoading {
    static var environment: [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                env[String(s[s.startIndex..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }

    static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Loads the file and every key it names, or prints `file:line: message`
    /// lines and exits 1.
    static func load(_ path: String) throws -> (GatewayConfig, KeySet.LoadResult) {
        do {
            let config = try ConfigLoader.load(path: path, environment: environment, coreCount: cores)
            let keys = try KeyLoading.load(config, environment: environment)
            return (config, keys)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

func printError(_ s: String) {
    var text = s
    if !text.hasSuffix("\n") { text += "\n" }
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve until SIGTERM or SIGINT (the default command).")
    @OptionGroup var options: ConfigOption

    func run() throws {
        let (config, keys) = try ConfigLoading.load(options.config)
        let status: Int32
        do {
            let server = try GatewayServer(config: config, keys: keys, configPath: options.config,
                                           environment: ConfigLoading.environment)
            status = try server.run()
        } catch {
            printError("gateway: \(error)")
            throw ExitCode(1)
        }
        throw ExitCode(status)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the configuration and print a summary.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        let (config, keys) = try ConfigLoading.load(options.config)
        // The listener's certificates load here as at start: a bad file or
        // a certificate that does not match its key fails the check.
        let tlsWarnings: [String]
        do {
            tlsWarnings = try KeyLoading.checkTLS(config)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        print(config.summary())
        for w in keys.warnings { print("warning: \(config.sourcePath):\(w.line): \(w.source): \(w.message)") }
        for w in tlsWarnings { print("warning: \(w)") }
        let pending = keys.pendingURLs.count
        print("keys loaded: \(keys.keySet.count)" + (pending > 0 ? " (+\(pending) JWKS URL(s), fetched at start)" : ""))
        print("configuration OK")
    }
}
