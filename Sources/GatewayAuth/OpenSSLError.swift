import COpenSSL

/// A failed libcrypto call: what we were doing, and the text of the first
/// entry of OpenSSL's thread-local error queue (`ERR_get_error`). Capturing
/// empties the queue so a later failure never reports a stale reason.
public struct OpenSSLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let operation: String
    public let detail: String

    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(operation) failed" : "\(operation) failed: \(detail)"
    }

    /// Takes the oldest queued error (if any) and clears the rest.
    static func capture(_ operation: String) -> OpenSSLError {
        let code = ERR_get_error()
        var text = ""
        if code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        ERR_clear_error()
        return OpenSSLError(operation: operation, detail: text)
    }

    /// Drops queued errors after an expected failure (e.g. a signature that
    /// does not verify), so the queue of a worker thread never grows.
    static func clearQueue() { ERR_clear_error() }
}
