/// The hashing and derivation behind refresh tokens (SPEC §7): a refresh
/// token is 256 random bits in base64url; the store keeps only its SHA-256;
/// the successor of a used token is derived from it under the store's
/// session key, so the store never holds a usable token and every instance
/// derives the same successor.
public enum SessionCrypto {
    /// A fresh refresh token: 32 random bytes, base64url (43 characters).
    public static func newRefreshToken() throws(OpenSSLError) -> String {
        Base64URL.encodeToString(try SecureRandom.bytes(32))
    }

    /// A fresh session id: 16 random bytes, base64url (22 characters).
    public static func newSessionID() throws(OpenSSLError) -> String {
        Base64URL.encodeToString(try SecureRandom.bytes(16))
    }

    /// SHA-256 of `token`'s bytes: what the store keeps and looks up.
    public static func tokenHash(_ token: some Collection<UInt8>) -> [UInt8] {
        MessageDigest.sha256.hash(Array(token))
    }

    /// The successor of `token`: base64url(HMAC-SHA256(sessionKey, "successor" NUL token)).
    public static func successor(of token: some Collection<UInt8>, sessionKey: [UInt8]) throws(OpenSSLError) -> String {
        Base64URL.encodeToString(try derive("successor", token, sessionKey: sessionKey))
    }

    /// HMAC-SHA256(sessionKey, label NUL data): one derivation for every
    /// value a rotation must reproduce byte for byte (successor, jti).
    public static func derive(_ label: String, _ data: some Collection<UInt8>,
                              sessionKey: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        var input = Array(label.utf8)
        input.append(0)
        input.append(contentsOf: data)
        return try HMACKey.mac(key: sessionKey, digest: .sha256, data: input)
    }
}
