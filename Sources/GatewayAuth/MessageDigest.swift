import COpenSSL

/// The SHA-2 digests JWS uses. Owns a fetched `EVP_MD`; the three instances
/// are process-wide and immutable, so sharing them across worker threads is
/// safe (OpenSSL 3 method objects are reference counted and read-only).
final class MessageDigest: @unchecked Sendable {
    let md: OpaquePointer
    /// Output length in bytes.
    let size: Int
    /// OpenSSL name, as passed to EVP_MAC's "digest" parameter.
    let name: String
    private let fetched: Bool

    static let sha256 = MessageDigest(name: "SHA2-256", fallback: EVP_sha256())
    static let sha384 = MessageDigest(name: "SHA2-384", fallback: EVP_sha384())
    static let sha512 = MessageDigest(name: "SHA2-512", fallback: EVP_sha512())

    // Fetching once avoids the implicit fetch (a name-map lookup under a
    // lock) that EVP_sha256() costs on every EVP_DigestInit in OpenSSL 3.
    private init(name: String, fallback: OpaquePointer?) {
        self.name = name
        if let md = EVP_MD_fetch(nil, name, nil) {
            self.md = md
            fetched = true
        } else if let md = fallback {
            // The built-in digests are always present; the fallback is the
            // static legacy object, which is never freed.
            ERR_clear_error()
            self.md = md
            fetched = false
        } else {
            preconditionFailure("libcrypto lacks \(name)")
        }
        size = Int(EVP_MD_get_size(md))
    }

    deinit { if fetched { EVP_MD_free(md) } }

    /// One-shot hash of `data`.
    func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var outLength: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            EVP_Digest(data.baseAddress, data.count, buffer.baseAddress, &outLength, md, nil)
        }
        // EVP_Digest fails only on allocation failure; a short hash would be a
        // silent security bug, so it is not ignored.
        precondition(ok == 1 && Int(outLength) == size, "EVP_Digest failed")
        return out
    }

    func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }
}
