import COpenSSL

/// Conversion between JWS ECDSA signatures (raw r||s, RFC 7518 §3.4) and the
/// DER `ECDSA-Sig-Value` OpenSSL verifies.
enum ECDSASignature {
    /// DER for a raw signature, or nil unless `raw` is exactly
    /// 2 * fieldLength bytes with r and s each in [1, n-1]. The range check
    /// rejects the all-zero signature and r or s >= n (the CVE-2022-21449
    /// "psychic signature" shape) before OpenSSL is involved.
    static func der(fromRaw raw: UnsafeRawBufferPointer, curve: EllipticCurve) -> [UInt8]? {
        let half = curve.fieldLength
        guard raw.count == 2 * half else { return nil }
        let r = UnsafeRawBufferPointer(rebasing: raw[0..<half])
        let s = UnsafeRawBufferPointer(rebasing: raw[half..<(2 * half)])
        guard curve.isValidScalar(r), curve.isValidScalar(s) else { return nil }
        guard let sig = ECDSA_SIG_new() else { OpenSSLError.clearQueue(); return nil }
        defer { ECDSA_SIG_free(sig) }
        guard let rb = BN_bin2bn(r.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(half), nil) else {
            OpenSSLError.clearQueue(); return nil
        }
        guard let sb = BN_bin2bn(s.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(half), nil) else {
            BN_free(rb); OpenSSLError.clearQueue(); return nil
        }
        // ECDSA_SIG_set0 takes ownership of both numbers on success.
        guard ECDSA_SIG_set0(sig, rb, sb) == 1 else {
            BN_free(rb); BN_free(sb); OpenSSLError.clearQueue(); return nil
        }
        // SEQUENCE { INTEGER r, INTEGER s }: at most 2 * (66 + 1 + 3) + 3 bytes.
        var out = [UInt8](repeating: 0, count: 2 * (half + 4) + 4)
        let length = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(sig, &cursor)
        }
        guard length > 0, Int(length) <= out.count else { OpenSSLError.clearQueue(); return nil }
        out.removeSubrange(Int(length)...)
        return out
    }

    /// Raw r||s (each left-padded to fieldLength) from DER, or nil when the
    /// DER is malformed or a value does not fit.
    static func raw(fromDER der: [UInt8], curve: EllipticCurve) -> [UInt8]? {
        let half = curve.fieldLength
        let sig = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let sig else { OpenSSLError.clearQueue(); return nil }
        defer { ECDSA_SIG_free(sig) }
        var out = [UInt8](repeating: 0, count: 2 * half)
        let ok = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress,
                  let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig) else { return false }
            return BN_bn2binpad(r, base, Int32(half)) == Int32(half)
                && BN_bn2binpad(s, base + half, Int32(half)) == Int32(half)
        }
        guard ok else { OpenSSLError.clearQueue(); return nil }
        return out
    }
}
