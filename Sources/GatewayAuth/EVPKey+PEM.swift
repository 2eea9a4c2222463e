import COpenSSL

extension EVPKey {
    /// A public key from PEM "PUBLIC KEY" (SubjectPublicKeyInfo, RFC 5280).
    static func publicKey(pem: [UInt8]) throws(OpenSSLError) -> EVPKey {
        guard pem.count < Int(Int32.max) else { throw OpenSSLError(operation: "PEM read", detail: "too large") }
        let key = pem.withUnsafeBytes { gw_pem_read_public_key($0.baseAddress, Int32($0.count)) }
        guard let key else { throw OpenSSLError.capture("PEM public key (SPKI) read") }
        return EVPKey(taking: key, hasPrivateKey: false)
    }

    /// A private key from PEM: PKCS#8 ("PRIVATE KEY") or the traditional
    /// per-type forms ("RSA PRIVATE KEY", "EC PRIVATE KEY"). Encrypted keys
    /// fail (no passphrase prompt).
    static func privateKey(pem: [UInt8]) throws(OpenSSLError) -> EVPKey {
        guard pem.count < Int(Int32.max) else { throw OpenSSLError(operation: "PEM read", detail: "too large") }
        let key = pem.withUnsafeBytes { gw_pem_read_private_key($0.baseAddress, Int32($0.count)) }
        guard let key else { throw OpenSSLError.capture("PEM private key read") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }
}
