import COpenSSL

/// Conversion between JWS ECDSA signatures (raw r||s, RFC 7518 §3.4) and the
/// DER `ECDSA-Sig-Value` OpenSSL verifies.
enum ECDSASignature {
    /// Bytes of the longest DER `ECDSA-Sig-Value` of a curve: a SEQUENCE
    /// header (3 with a long-form length) and two INTEGERs of a tag, a length
    /// and fieldLength + 1 bytes (a 0x00 before a high bit).
    static func maxDERCount(_ curve: EllipticCurve) -> Int { 3 + 2 * (2 + curve.fieldLength + 1) }

    /// DER for a raw signature, or nil unless `raw` is exactly
    /// 2 * fieldLength bytes with r and s each in [1, n-1]. The range check
    /// rejects the all-zero signature and r or s >= n (the CVE-2022-21449
    /// "psychic signature" shape) before OpenSSL is involved.
    static func der(fromRaw raw: UnsafeRawBufferPointer, curve: EllipticCurve) -> [UInt8]? {
        withDER(fromRaw: raw, curve: curve) { Array($0) }
    }

    /// Calls `body` with the DER of a raw signature (rules of `der(fromRaw:)`)
    /// written to stack scratch; nil, without calling it, when refused.
    /// Encoded here rather than by BIGNUMs and i2d_ECDSA_SIG: the same bytes
    /// (DER has one encoding per value), without three allocations and
    /// ~10k instructions per verify.
    static func withDER<R>(fromRaw raw: UnsafeRawBufferPointer, curve: EllipticCurve,
                           _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let half = curve.fieldLength
        guard raw.count == 2 * half else { return nil }
        let r = UnsafeRawBufferPointer(rebasing: raw[0..<half])
        let s = UnsafeRawBufferPointer(rebasing: raw[half..<(2 * half)])
        guard curve.isValidScalar(r), curve.isValidScalar(s) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: maxDERCount(curve), alignment: 1) { out -> R in
            // The INTEGER contents: minimal big-endian (r, s > 0, so at
            // least one byte), with a 0x00 first when the high bit is set.
            func contents(_ v: UnsafeRawBufferPointer) -> (start: Int, pad: Int) {
                var start = 0
                while v[start] == 0 { start += 1 }
                return (start, v[start] & 0x80 != 0 ? 1 : 0)
            }
            let (rStart, rPad) = contents(r), (sStart, sPad) = contents(s)
            let rLength = half - rStart + rPad, sLength = half - sStart + sPad
            let bodyLength = 2 + rLength + 2 + sLength
            var o = 0
            out[o] = 0x30; o += 1
            if bodyLength >= 0x80 { out[o] = 0x81; o += 1 }
            out[o] = UInt8(bodyLength); o += 1
            func integer(_ v: UnsafeRawBufferPointer, _ start: Int, _ pad: Int, _ length: Int) {
                out[o] = 0x02; out[o + 1] = UInt8(length); o += 2
                if pad == 1 { out[o] = 0; o += 1 }
                for i in start..<half { out[o] = v[i]; o += 1 }
            }
            integer(r, rStart, rPad, rLength)
            integer(s, sStart, sPad, sLength)
            return body(UnsafeRawBufferPointer(rebasing: out[0..<o]))
        }
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
