public import GatewayCore
public import GatewayAuth
#if canImport(Glibc)
import Glibc
#endif

/// Loads the key material of every `[[keys]]` entry for `check`, start and
/// reload, turning failures into the same `file:line: message` errors as
/// the rest of the configuration.
public enum KeyLoading {
    public static func load(_ config: GatewayConfig, environment: [String: String]) throws(ConfigErrors) -> KeySet.LoadResult {
        do {
            return try KeySet.load(config.keys, environment: environment)
        } catch {
            throw ConfigErrors([ConfigError(file: config.sourcePath, line: error.line, message: error.description)])
        }
    }

    /// The listener's certificate set, nil for plain HTTP; a certificate
    /// that does not load or does not match its key is a
    /// `file:line: place: message` error.
    static func loadTLS(_ config: GatewayConfig, now: Int64 = Int64(time(nil))) throws(ConfigErrors) -> TLSContext? {
        guard !config.server.certificates.isEmpty else { return nil }
        do {
            return try TLSContext(server: config.server.certificates, now: now)
        } catch {
            throw ConfigErrors(error.failures.map {
                ConfigError(file: config.sourcePath, line: $0.certificate.line, message: "\($0.certificate.place): \($0.message)")
            })
        }
    }

    /// For `gateway check`: loads the listener's certificates as the server
    /// would and returns a `file:line: place: message` warning line for each
    /// one that expires within 14 days (or has expired).
    public static func checkTLS(_ config: GatewayConfig) throws(ConfigErrors) -> [String] {
        guard let tls = try loadTLS(config) else { return [] }
        return tlsWarnings(tls, config)
    }

    static func tlsWarnings(_ tls: TLSContext, _ config: GatewayConfig) -> [String] {
        tls.expiryWarnings(now: Int64(time(nil))).map { "\(config.sourcePath):\($0.config.line): \($0.config.place): \($0.message)" }
    }
}
