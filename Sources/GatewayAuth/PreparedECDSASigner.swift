import COpenSSL

/// One EC key's deterministic ECDSA signing (RFC 6979 nonce, then
/// `gw_ecdsa_signer_sign`), with everything that does not depend on the
/// message made once: the digest context, the HMAC-DRBG's one HMAC context
/// and buffers (`DeterministicNonce.Generator`), and the C signer's BN_CTX,
/// numbers and point; k is inverted blinded (see the shim).
///
/// NOT thread-safe: all of it is scratch for one signature at a time. One
/// instance per worker and key, owned by that worker's `SignerWorkspace`.
final class PreparedECDSASigner {
    let curve: EllipticCurve
    private let digest: MessageDigest
    private let signer: UnsafeMutablePointer<gw_ecdsa_signer>
    private let digestContext: OpaquePointer
    private var generator: DeterministicNonce.Generator
    /// The private scalar x, int2octets form (RFC 6979 §2.3.3).
    private let scalar: [UInt8]
    private var hash: [UInt8]
    private var nonce: [UInt8]
    /// Retained so the C signer's EC_KEY reference never outlives its key.
    private let key: EVPKey

    /// Nil when OpenSSL cannot set the signer up; the caller then signs
    /// through the unprepared path.
    init?(key: EVPKey, scalar: [UInt8], curve: EllipticCurve, digest: MessageDigest) {
        guard scalar.count == curve.order.count, let ec = key.legacyEC else { return nil }
        guard let generator = try? DeterministicNonce.Generator(digest: digest, curve: curve) else {
            OpenSSLError.clearQueue()
            return nil
        }
        guard let signer = gw_ecdsa_signer_new(ec) else { OpenSSLError.clearQueue(); return nil }
        guard let mdctx = EVP_MD_CTX_new() else {
            gw_ecdsa_signer_free(signer)
            OpenSSLError.clearQueue()
            return nil
        }
        self.key = key
        self.curve = curve
        self.digest = digest
        self.signer = signer
        self.generator = generator
        self.scalar = scalar
        digestContext = mdctx
        hash = [UInt8](repeating: 0, count: digest.size)
        nonce = [UInt8](repeating: 0, count: curve.order.count)
    }

    deinit {
        EVP_MD_CTX_free(digestContext)
        gw_ecdsa_signer_free(signer)
    }

    /// Raw r||s (RFC 7518 §3.4) of `message` into `out` (exactly
    /// 2 * fieldLength bytes). Same bytes as the unprepared path.
    func sign(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(OpenSSLError) {
        guard out.count == 2 * curve.fieldLength else { throw OpenSSLError(operation: "ECDSA sign", detail: "output size") }
        let digestContext = self.digestContext, md = digest.md, size = digest.size
        let hashed = hash.withUnsafeMutableBufferPointer { h in
            var length: UInt32 = 0
            return EVP_DigestInit_ex2(digestContext, md, nil) == 1
                && withNonNull(message) { EVP_DigestUpdate(digestContext, $0, message.count) } == 1
                && EVP_DigestFinal_ex(digestContext, h.baseAddress, &length) == 1
                && Int(length) == size
        }
        guard hashed else { throw OpenSSLError.capture("EVP_Digest") }
        let made = scalar.withUnsafeBytes { x in
            hash.withUnsafeBytes { h in nonce.withUnsafeMutableBytes { generator.generate(x: x, messageHash: h, into: $0) } }
        }
        // The nonce is as secret as the key: wiped once the signature is made.
        defer { for i in nonce.indices { nonce[i] = 0 } }
        guard made else { throw OpenSSLError.capture("RFC 6979 HMAC-DRBG") }
        let signer = self.signer, fieldLength = Int32(curve.fieldLength)
        let ok = hash.withUnsafeBufferPointer { h in
            nonce.withUnsafeBufferPointer { k in
                gw_ecdsa_signer_sign(signer, h.baseAddress, Int32(h.count), k.baseAddress, Int32(k.count),
                                     out.baseAddress?.assumingMemoryBound(to: UInt8.self), fieldLength)
            }
        }
        guard ok == 1 else { throw OpenSSLError.capture("ECDSA_do_sign_ex") }
    }

    /// k^-1 mod n (k big-endian, in [1, n-1]) as `sign` computes it (blinded,
    /// see the shim); nil on failure. For tests: the oracle is BN_mod_inverse.
    func nonceInverse(_ k: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: curve.order.count)
        let signer = self.signer
        let ok = k.withUnsafeBufferPointer { kb in
            out.withUnsafeMutableBufferPointer { o in
                gw_ecdsa_signer_nonce_inverse(signer, kb.baseAddress, Int32(kb.count), o.baseAddress, Int32(o.count))
            }
        }
        guard ok == 1 else { OpenSSLError.clearQueue(); return nil }
        return out
    }
}
