/// One problem found in a config file, located by file and 1-based line.
/// Line 0 means the problem concerns the file as a whole (it could not be
/// read); `description` then omits the line.
public struct ConfigError: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file; self.line = line; self.message = message
    }

    /// `file:line: message`, the shape compilers use, so editors can jump to it.
    public var description: String {
        line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
    }
}

/// Every problem a config load found, in line order. Thrown by
/// `ConfigLoader`; never empty when thrown.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    /// One `file:line: message` per line, no trailing newline.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
