import COpenSSL

/// One key's verify operation, set up once.
///
/// - RSA, ECDSA: an `EVP_PKEY_CTX` after `EVP_PKEY_verify_init` with padding
///   and digest fixed, plus an `EVP_MD_CTX` for hashing the signing input
///   with the process-wide fetched `EVP_MD`. A verify is then hash +
///   `EVP_PKEY_verify`.
/// - Ed25519: an `EVP_MD_CTX` after `EVP_DigestVerifyInit`; Ed25519 signs
///   the whole message (RFC 8032), and OpenSSL 3.0's one-shot
///   `EVP_DigestVerify` on it leaves the context reusable, so a verify is
///   that one call.
///
/// Either way: no provider lookup and no context allocation per verify
/// (OpenSSL 3.0's `EVP_DigestVerifyInit` fetches the signature and digest
/// implementations on every call).
///
/// NOT thread-safe: the contexts are mutated by every verify. One instance
/// per worker and key, owned by that worker's `VerifierWorkspace`; the
/// `EVPKey` is retained so the context never outlives its key.
final class PreparedVerifier {
    let key: EVPKey
    private let digest: MessageDigest?
    /// Nil for Ed25519.
    private let pkeyContext: OpaquePointer?
    private let digestContext: OpaquePointer

    /// Nil for HMAC, or when OpenSSL refuses the setup; the caller then uses
    /// the one-shot `EVPKey.verify`.
    init?(key: EVPKey, algorithm: JWSAlgorithm) {
        switch algorithm.family {
        case .rsaPKCS1, .rsaPSS, .ecdsa: break
        case .edDSA:
            guard let mdctx = EVP_MD_CTX_new() else { OpenSSLError.clearQueue(); return nil }
            guard EVP_DigestVerifyInit(mdctx, nil, nil, nil, key.pointer) == 1 else {
                EVP_MD_CTX_free(mdctx)
                OpenSSLError.clearQueue()
                return nil
            }
            self.key = key
            digest = nil
            pkeyContext = nil
            digestContext = mdctx
            return
        case .hmac: return nil
        }
        guard let digest = algorithm.digest else { return nil }
        guard let pctx = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            OpenSSLError.clearQueue()
            return nil
        }
        var ok = EVP_PKEY_verify_init(pctx) == 1
        switch algorithm.family {
        case .rsaPKCS1:
            ok = ok && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1
                && EVP_PKEY_CTX_set_signature_md(pctx, digest.md) == 1
        case .rsaPSS:
            // RFC 7518 §3.5: MGF1 with the same digest, salt length = digest length.
            ok = ok && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_signature_md(pctx, digest.md) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest.md) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1
        case .ecdsa:
            ok = ok && EVP_PKEY_CTX_set_signature_md(pctx, digest.md) == 1
        case .hmac, .edDSA:
            ok = false
        }
        guard ok, let mdctx = EVP_MD_CTX_new() else {
            EVP_PKEY_CTX_free(pctx)
            OpenSSLError.clearQueue()
            return nil
        }
        self.key = key
        self.digest = digest
        pkeyContext = pctx
        digestContext = mdctx
    }

    deinit {
        EVP_MD_CTX_free(digestContext)
        if let pkeyContext { EVP_PKEY_CTX_free(pkeyContext) }
    }

    /// True when `signature` (RSA bytes, DER for ECDSA, 64 bytes for
    /// Ed25519) verifies over `message` (hashed first, except for Ed25519).
    /// False for a bad signature or any OpenSSL failure (the error queue is
    /// cleared either way).
    func verify(message: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer) -> Bool {
        guard let digest, let pkeyContext else {
            let result = withNonNull(signature) { sig in
                withNonNull(message) { EVP_DigestVerify(digestContext, sig, signature.count, $0, message.count) }
            }
            if result != 1 { OpenSSLError.clearQueue() }
            return result == 1
        }
        // 64 bytes covers SHA-512; no heap allocation per verify.
        return withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { hash in
            guard let out = hash.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
            var length: UInt32 = 0
            let hashed = EVP_DigestInit_ex2(digestContext, digest.md, nil) == 1
                && withNonNull(message) { EVP_DigestUpdate(digestContext, $0, message.count) } == 1
                && EVP_DigestFinal_ex(digestContext, out, &length) == 1
                && Int(length) == digest.size
            guard hashed else { OpenSSLError.clearQueue(); return false }
            let result = withNonNull(signature) { sig in
                EVP_PKEY_verify(pkeyContext, sig, signature.count, out, Int(length))
            }
            if result != 1 { OpenSSLError.clearQueue() }
            return result == 1
        }
    }
}

/// A worker's per-key prepared verify contexts (`PreparedVerifier` for RSA,
/// ECDSA and Ed25519, `HMACContext` for HMAC), made on first use of a key and kept
/// until `clear()` (after a key reload).
///
/// NOT thread-safe by design, like the caches it lives beside: one per
/// worker, reached through that worker's `VerifiedTokenCache`, used only on
/// its thread, so the request path takes no lock.
public final class VerifierWorkspace {
    enum Prepared {
        case signature(PreparedVerifier)
        case mac(HMACContext)
    }

    /// Linear: a gateway has a handful of keys. Each entry retains its
    /// `VerificationKey`, so an identity match can never hit a freed key's
    /// reused address.
    private var entries: [(key: VerificationKey, prepared: Prepared?)] = []
    /// Bound on prepared keys (a JWKS with thousands of keys must not make
    /// thousands of contexts); past it, verification falls back to one-shot.
    static let maxKeys = 64

    /// Where a token's parts are base64url-decoded (`JWSToken.decodeParts`):
    /// made once, reused by every verify on this worker.
    private var scratch = [UInt8](repeating: 0, count: JWSToken.scratchSize)
    /// This worker's last accepted header segment (`JWSToken.HeaderMemo`).
    let headerMemo = JWSToken.HeaderMemo()

    public init() {}

    /// Calls `body` with this worker's decode scratch. Not reentrant.
    func withScratch<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        scratch.withUnsafeMutableBytes(body)
    }

    /// The prepared context for `key`, or nil when the key's algorithm has
    /// none, OpenSSL refused the setup, or the bound is reached.
    func context(for key: VerificationKey) -> Prepared? {
        for entry in entries where entry.key === key { return entry.prepared }
        guard entries.count < Self.maxKeys else { return nil }
        let made: Prepared?
        switch key.material {
        case .asymmetric(let evp): made = PreparedVerifier(key: evp, algorithm: key.algorithm).map { .signature($0) }
        case .hmac(let secret): made = HMACContext(copying: secret).map { .mac($0) }
        }
        entries.append((key, made))
        return made
    }

    /// The prepared signature verifier for `key` (RSA, ECDSA, Ed25519), else nil.
    func prepared(for key: VerificationKey) -> PreparedVerifier? {
        guard case .signature(let verifier)? = context(for: key) else { return nil }
        return verifier
    }

    /// Drops every prepared context (keys were replaced).
    public func clear() { entries.removeAll() }

    var count: Int { entries.count }
}
