public import GatewayCore
public import GatewayAuth

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
}
