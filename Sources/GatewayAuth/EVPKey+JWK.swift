import COpenSSL

/// Builds keys from JWK parameters (RFC 7518 §6) with EVP_PKEY_fromdata.
/// The parameter arrays point into Swift buffers; every buffer stays alive
/// (inside its `with...` closure) until EVP_PKEY_fromdata has returned.
extension EVPKey {
    /// RSA public key from big-endian modulus and exponent (JWK "n", "e").
    static func rsa(modulus: [UInt8], exponent: [UInt8]) throws(OpenSSLError) -> EVPKey {
        var n = nativeEndian(modulus)
        var e = nativeEndian(exponent)
        return try n.withUnsafeMutableBufferPointer { (nb) throws(OpenSSLError) -> EVPKey in
            try e.withUnsafeMutableBufferPointer { (eb) throws(OpenSSLError) -> EVPKey in
                var params = [gw_param_rsa_n(nb.baseAddress, nb.count),
                              gw_param_rsa_e(eb.baseAddress, eb.count), gw_param_end()]
                return try fromData(type: "RSA", params: &params, keypair: false)
            }
        }
    }

    /// EC public key from affine coordinates (JWK "x", "y", each exactly
    /// `fieldLength` bytes per RFC 7518 §6.2.1.2), optionally with the
    /// private scalar "d". OpenSSL rejects points not on the curve.
    static func ec(curve: EllipticCurve, x: [UInt8], y: [UInt8], d: [UInt8]? = nil) throws(OpenSSLError) -> EVPKey {
        guard x.count == curve.fieldLength, y.count == curve.fieldLength else {
            throw OpenSSLError(operation: "EC JWK", detail: "coordinate length is not \(curve.fieldLength)")
        }
        // Uncompressed point encoding (SEC 1 §2.3.3).
        var point: [UInt8] = [0x04] + x + y
        var group = Array(curve.openSSLName.utf8CString)
        var privateScalar = nativeEndian(d ?? [])
        let key = try point.withUnsafeMutableBufferPointer { (pb) throws(OpenSSLError) -> EVPKey in
            try group.withUnsafeMutableBufferPointer { (gb) throws(OpenSSLError) -> EVPKey in
                try privateScalar.withUnsafeMutableBufferPointer { (db) throws(OpenSSLError) -> EVPKey in
                    var params = [gw_param_group(gb.baseAddress), gw_param_pub(pb.baseAddress, pb.count)]
                    if d != nil { params.append(gw_param_priv_bn(db.baseAddress, db.count)) }
                    params.append(gw_param_end())
                    return try fromData(type: "EC", params: &params, keypair: d != nil)
                }
            }
        }
        for i in privateScalar.indices { privateScalar[i] = 0 }
        try key.checkPublic()
        return key
    }

    /// Ed25519 public key (JWK kty "OKP", crv "Ed25519", "x": 32 bytes, RFC 8037 §2).
    static func ed25519(publicKey: [UInt8]) throws(OpenSSLError) -> EVPKey {
        guard publicKey.count == 32 else {
            throw OpenSSLError(operation: "Ed25519 JWK", detail: "x is not 32 bytes")
        }
        var pub = publicKey
        return try pub.withUnsafeMutableBufferPointer { (pb) throws(OpenSSLError) -> EVPKey in
            var params = [gw_param_pub(pb.baseAddress, pb.count), gw_param_end()]
            return try fromData(type: "ED25519", params: &params, keypair: false)
        }
    }

    private static func fromData(type: String, params: inout [OSSL_PARAM], keypair: Bool) throws(OpenSSLError) -> EVPKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_name(\(type))")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_fromdata_init(ctx) == 1 else { throw OpenSSLError.capture("EVP_PKEY_fromdata_init") }
        var key: OpaquePointer? = nil
        let selection = keypair ? gw_selection_keypair() : gw_selection_public_key()
        let ok = params.withUnsafeMutableBufferPointer { EVP_PKEY_fromdata(ctx, &key, selection, $0.baseAddress) }
        guard ok == 1, let key else { throw OpenSSLError.capture("EVP_PKEY_fromdata(\(type))") }
        return EVPKey(taking: key, hasPrivateKey: keypair)
    }

    /// Full public-key validation (point on curve, not at infinity, right
    /// order), so a crafted JWK cannot smuggle an invalid-curve point.
    private func checkPublic() throws(OpenSSLError) {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pointer, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_public_check(ctx) == 1 else { throw OpenSSLError.capture("EC public key check") }
    }

    /// OSSL_PARAM BIGNUMs are native-endian (OSSL_PARAM(3)); JWK is big-endian.
    private static func nativeEndian(_ bigEndian: [UInt8]) -> [UInt8] {
        UInt16(1).littleEndian == 1 ? Array(bigEndian.reversed()) : bigEndian
    }
}
