import COpenSSL

/// Owns the process-wide fetched `EVP_MAC` for HMAC. Immutable after fetch,
/// so it is shared by every thread.
private final class HMACMethod: @unchecked Sendable {
    let mac: OpaquePointer?
    init() { mac = EVP_MAC_fetch(nil, "HMAC", nil) }
    deinit { if let mac { EVP_MAC_free(mac) } }
}

private let hmacMethod = HMACMethod()

/// An HMAC key bound to one digest (RFC 2104 via EVP_MAC). Holds an
/// `EVP_MAC_CTX` initialised with the key that is never updated itself:
/// every MAC works on a duplicate, so one key can be used from several worker
/// threads at once and the key schedule (ipad/opad states) is computed once.
final class HMACKey: @unchecked Sendable {
    private let template: OpaquePointer
    let digest: MessageDigest

    /// Throws when EVP_MAC rejects the key or digest.
    init(key: [UInt8], digest: MessageDigest) throws(OpenSSLError) {
        guard let mac = hmacMethod.mac, let ctx = EVP_MAC_CTX_new(mac) else {
            throw OpenSSLError.capture("EVP_MAC_CTX_new(HMAC)")
        }
        self.digest = digest
        // The digest name buffer must outlive EVP_MAC_init, which reads the
        // params; both stay inside this closure.
        var name = Array(digest.name.utf8CString)
        let ok = name.withUnsafeMutableBufferPointer { nameBuffer in
            var params = [gw_param_digest(nameBuffer.baseAddress), gw_param_end()]
            return key.withUnsafeBytes { keyBytes in
                // EVP_MAC_init treats a NULL key as "keep the previous key";
                // an empty key needs a valid pointer.
                var empty: UInt8 = 0
                return withUnsafePointer(to: &empty) { emptyPointer in
                    let keyPointer = keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer
                    return EVP_MAC_init(ctx, keyPointer, keyBytes.count, &params)
                }
            }
        }
        guard ok == 1 else {
            EVP_MAC_CTX_free(ctx)
            throw OpenSSLError.capture("EVP_MAC_init")
        }
        template = ctx
    }

    deinit { EVP_MAC_CTX_free(template) }

    /// Output length in bytes.
    var size: Int { digest.size }

    /// A new context with this key and digest, owned by the caller (an
    /// `HMACContext`), or nil when OpenSSL cannot allocate it.
    func duplicateContext() -> OpaquePointer? {
        let dup = EVP_MAC_CTX_dup(template)
        if dup == nil { OpenSSLError.clearQueue() }
        return dup
    }

    /// HMAC of `data`.
    func authenticate(_ data: UnsafeRawBufferPointer) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digest.size)
        let ok = out.withUnsafeMutableBytes { authenticate(data, into: $0) }
        guard ok else { throw OpenSSLError.capture("EVP_MAC_final") }
        return out
    }

    func authenticate(_ data: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digest.size)
        let ok = data.withUnsafeBytes { raw in out.withUnsafeMutableBytes { authenticate(raw, into: $0) } }
        guard ok else { throw OpenSSLError.capture("EVP_MAC_final") }
        return out
    }

    /// Writes the MAC of `data` to the start of `out` (at least `size` bytes).
    /// False on an OpenSSL failure (allocation); the queue is left for capture.
    func authenticate(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard out.count >= digest.size, let ctx = EVP_MAC_CTX_dup(template) else { return false }
        defer { EVP_MAC_CTX_free(ctx) }
        var empty: UInt8 = 0
        let updated = withUnsafePointer(to: &empty) { emptyPointer in
            EVP_MAC_update(ctx, data.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer, data.count)
        }
        guard updated == 1 else { return false }
        var length = 0
        let finished = EVP_MAC_final(ctx, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, out.count)
        return finished == 1 && length == digest.size
    }

    /// One-shot HMAC with a key used once (RFC 6979's changing K).
    static func mac(key: [UInt8], digest: MessageDigest, data: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        try HMACKey(key: key, digest: digest).authenticate(data)
    }
}
