import COpenSSL

/// What kind of key an `EVP_PKEY` holds, as far as JWS cares.
enum EVPKeyType: Equatable, Sendable {
    case rsa(bits: Int)
    /// An RSA key restricted to PSS (OID id-RSASSA-PSS).
    case rsaPSS(bits: Int)
    case ec(EllipticCurve)
    case ed25519
    /// A curve or type JWS does not use here (name for messages).
    case unsupported(String)

    var label: String {
        switch self {
        case .rsa(let bits): return "RSA \(bits)-bit"
        case .rsaPSS(let bits): return "RSA-PSS \(bits)-bit"
        case .ec(let curve): return "EC \(curve.rawValue)"
        case .ed25519: return "Ed25519"
        case .unsupported(let name): return name
        }
    }
}

/// Owns one `EVP_PKEY` and frees it in deinit. Once built the key is only
/// read (verify and sign make their own contexts), which OpenSSL 3 allows
/// from several threads at once; hence `@unchecked Sendable`.
final class EVPKey: @unchecked Sendable {
    /// Only the OpenSSL-layer files use this; it never leaves GatewayAuth.
    let pointer: OpaquePointer
    /// True when the private half is present (signing possible).
    let hasPrivateKey: Bool
    let type: EVPKeyType

    /// For EC private keys: the legacy EC_KEY that deterministic ECDSA
    /// signs with, made once (OpenSSL 3 exports a copy on each request).
    let legacyEC: OpaquePointer?

    init(taking pointer: OpaquePointer, hasPrivateKey: Bool) {
        self.pointer = pointer
        self.hasPrivateKey = hasPrivateKey
        self.type = EVPKey.classify(pointer)
        if hasPrivateKey, case .ec = type { legacyEC = gw_ec_key_get1(pointer) } else { legacyEC = nil }
    }

    deinit {
        if let legacyEC { gw_ec_key_free(legacyEC) }
        EVP_PKEY_free(pointer)
    }

    private static func classify(_ pkey: OpaquePointer) -> EVPKeyType {
        let bits = Int(EVP_PKEY_get_bits(pkey))
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA: return .rsa(bits: bits)
        case EVP_PKEY_RSA_PSS: return .rsaPSS(bits: bits)
        case EVP_PKEY_ED25519: return .ed25519
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            let ok = name.withUnsafeMutableBufferPointer { gw_pkey_group_name(pkey, $0.baseAddress, $0.count) }
            let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if ok == 1, let curve = EllipticCurve(openSSLName: text) { return .ec(curve) }
            OpenSSLError.clearQueue()
            return .unsupported("EC \(text)")
        case let other:
            return .unsupported(String(cString: OBJ_nid2sn(other)))
        }
    }

    /// Maximum signature size (RSA modulus bytes, DER ECDSA bound).
    var maxSignatureSize: Int { Int(EVP_PKEY_get_size(pointer)) }

    /// DER encoding of the private key (for deriving per-key secrets), or nil
    /// for a public key.
    func privateKeyDER() -> [UInt8]? {
        guard hasPrivateKey else { return nil }
        let length = i2d_PrivateKey(pointer, nil)
        guard length > 0 else { OpenSSLError.clearQueue(); return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_PrivateKey(pointer, &cursor)
        }
        guard written == length else { OpenSSLError.clearQueue(); return nil }
        return out
    }

    /// SubjectPublicKeyInfo DER of the public half (for fingerprints/tests).
    func publicKeyDER() -> [UInt8]? {
        let length = i2d_PUBKEY(pointer, nil)
        guard length > 0 else { OpenSSLError.clearQueue(); return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_PUBKEY(pointer, &cursor)
        }
        guard written == length else { OpenSSLError.clearQueue(); return nil }
        return out
    }

    // MARK: Generation (tests, `gateway token` tooling)

    static func generateRSA(bits: Int) throws(OpenSSLError) -> EVPKey {
        guard let key = gw_keygen_rsa(bits) else { throw OpenSSLError.capture("RSA keygen") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }

    static func generateEC(_ curve: EllipticCurve) throws(OpenSSLError) -> EVPKey {
        guard let key = gw_keygen_ec(curve.openSSLName) else { throw OpenSSLError.capture("EC keygen") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }

    static func generateEd25519() throws(OpenSSLError) -> EVPKey {
        guard let key = gw_keygen_ed25519() else { throw OpenSSLError.capture("Ed25519 keygen") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }

    /// An Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5).
    static func ed25519(privateSeed: [UInt8]) throws(OpenSSLError) -> EVPKey {
        let key = privateSeed.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count)
        }
        guard let key else { throw OpenSSLError.capture("EVP_PKEY_new_raw_private_key") }
        return EVPKey(taking: key, hasPrivateKey: true)
    }
}
