import COpenSSL

/// Signature primitives over an `EVPKey`. Each call makes and frees its own
/// contexts, so a key can be used from several threads at once.
extension EVPKey {
    enum Padding { case none, pkcs1, pss }

    /// EVP_DigestVerify of `signature` over `message`. `digest` is nil for
    /// Ed25519 (EdDSA hashes internally, RFC 8032); `padding` applies to RSA
    /// (PSS with salt length = digest length and MGF1 over the same digest,
    /// RFC 7518 §3.5). False for a bad signature or any OpenSSL failure.
    func verify(message: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer,
                digest: MessageDigest?, padding: Padding) -> Bool {
        guard let mdctx = EVP_MD_CTX_new() else { OpenSSLError.clearQueue(); return false }
        defer { EVP_MD_CTX_free(mdctx) }
        var pctx: OpaquePointer? = nil
        guard EVP_DigestVerifyInit(mdctx, &pctx, digest?.md, nil, pointer) == 1 else {
            OpenSSLError.clearQueue()
            return false
        }
        if padding == .pss {
            guard let pctx, let digest,
                  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest.md) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 else {
                OpenSSLError.clearQueue()
                return false
            }
        }
        let result = withNonNull(signature) { sig in
            withNonNull(message) { msg in
                EVP_DigestVerify(mdctx, sig, signature.count, msg, message.count)
            }
        }
        if result != 1 { OpenSSLError.clearQueue() }
        return result == 1
    }

    /// EVP_DigestSign: RSA PKCS#1 v1.5 (`digest` set) or Ed25519 (`digest`
    /// nil). Both are deterministic, so the same input signs the same bytes.
    func sign(message: UnsafeRawBufferPointer, digest: MessageDigest?) throws(OpenSSLError) -> [UInt8] {
        guard let mdctx = EVP_MD_CTX_new() else { throw OpenSSLError.capture("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mdctx) }
        guard EVP_DigestSignInit(mdctx, nil, digest?.md, nil, pointer) == 1 else {
            throw OpenSSLError.capture("EVP_DigestSignInit")
        }
        var length = maxSignatureSize
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            withNonNull(message) { msg in
                EVP_DigestSign(mdctx, buffer.baseAddress, &length, msg, message.count)
            }
        }
        guard ok == 1 else { throw OpenSSLError.capture("EVP_DigestSign") }
        out.removeSubrange(length...)
        return out
    }

    /// The RSA private-key operation on a block the caller has padded itself
    /// (RSA_NO_PADDING): `block` must be exactly the modulus length and less
    /// than the modulus. Used for deterministic PSS (see RSAPSSEncoding).
    func rsaPrivateRaw(_ block: [UInt8]) throws(OpenSSLError) -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_sign_init(ctx) == 1, EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 else {
            throw OpenSSLError.capture("EVP_PKEY_sign_init(raw RSA)")
        }
        var length = maxSignatureSize
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBufferPointer { o in
            block.withUnsafeBufferPointer { b in EVP_PKEY_sign(ctx, o.baseAddress, &length, b.baseAddress, b.count) }
        }
        guard ok == 1 else { throw OpenSSLError.capture("EVP_PKEY_sign(raw RSA)") }
        out.removeSubrange(length...)
        return out
    }

    /// The EC private scalar, big-endian, `curve.fieldLength` bytes.
    func ecPrivateScalar(curve: EllipticCurve) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: curve.fieldLength)
        let ok = out.withUnsafeMutableBufferPointer {
            gw_ec_private_scalar(pointer, $0.baseAddress, Int32($0.count))
        }
        guard ok == 1 else { throw OpenSSLError.capture("EC private scalar") }
        return out
    }

    /// ECDSA over a precomputed message digest with a caller-chosen nonce `k`
    /// (RFC 6979); returns raw r||s, each `curve.fieldLength` bytes.
    func ecdsaSign(messageDigest: [UInt8], nonce k: [UInt8], curve: EllipticCurve) throws(OpenSSLError) -> [UInt8] {
        guard let legacyEC else { throw OpenSSLError(operation: "ECDSA sign", detail: "no EC private key") }
        var out = [UInt8](repeating: 0, count: 2 * curve.fieldLength)
        let ok = out.withUnsafeMutableBufferPointer { o in
            messageDigest.withUnsafeBufferPointer { d in
                k.withUnsafeBufferPointer { kb in
                    gw_ecdsa_sign_with_nonce(legacyEC, d.baseAddress, Int32(d.count), kb.baseAddress,
                                             Int32(kb.count), o.baseAddress, Int32(curve.fieldLength))
                }
            }
        }
        guard ok == 1 else { throw OpenSSLError.capture("ECDSA_do_sign_ex") }
        return out
    }
}

/// Calls `body` with a non-null pointer even for an empty buffer, since some
/// OpenSSL entry points reject NULL with length 0.
func withNonNull<R>(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>) -> R) -> R {
    if let base = buffer.baseAddress {
        return body(base.assumingMemoryBound(to: UInt8.self))
    }
    var zero: UInt8 = 0
    return withUnsafePointer(to: &zero) { body($0) }
}
