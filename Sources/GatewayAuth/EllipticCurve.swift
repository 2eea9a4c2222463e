/// The NIST curves JWS uses (RFC 7518 §3.4), with the group order needed to
/// range-check signatures (r and s in [1, n-1]) and to derive RFC 6979 nonces.
public enum EllipticCurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"

    /// OpenSSL group name.
    var openSSLName: String {
        switch self {
        case .p256: return "prime256v1"
        case .p384: return "secp384r1"
        case .p521: return "secp521r1"
        }
    }

    init?(openSSLName: String) {
        switch openSSLName {
        case "prime256v1", "P-256": self = .p256
        case "secp384r1", "P-384": self = .p384
        case "secp521r1", "P-521": self = .p521
        default: return nil
        }
    }

    /// Bytes of one coordinate or scalar: ceil(bits / 8). A JWS ECDSA
    /// signature is exactly twice this (RFC 7518 §3.4).
    var fieldLength: Int {
        switch self {
        case .p256: return 32
        case .p384: return 48
        case .p521: return 66
        }
    }

    /// Bit length of the group order (qlen in RFC 6979).
    var orderBits: Int {
        switch self {
        case .p256: return 256
        case .p384: return 384
        case .p521: return 521
        }
    }

    /// The group order n, big-endian, `fieldLength` bytes (SEC 2 §2.4).
    var order: [UInt8] {
        switch self {
        case .p256: return EllipticCurve.p256Order
        case .p384: return EllipticCurve.p384Order
        case .p521: return EllipticCurve.p521Order
        }
    }

    private static let p256Order = hexBytes(
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
    private static let p384Order = hexBytes(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973")
    private static let p521Order = hexBytes(
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409")

    /// True when the big-endian number `value` (exactly `fieldLength` bytes)
    /// is in [1, n-1]. Runs over every byte (no early exit), although the
    /// values checked are public.
    func isValidScalar(_ value: UnsafeRawBufferPointer) -> Bool {
        let n = order
        guard value.count == n.count else { return false }
        var nonZero: UInt8 = 0
        // lessThan/decided: lexicographic compare without branching on data.
        var less: UInt8 = 0
        var decided: UInt8 = 0
        for i in 0..<n.count {
            let a = value[i], b = n[i]
            nonZero |= a
            let lt: UInt8 = a < b ? 1 : 0
            let ne: UInt8 = a != b ? 1 : 0
            less |= lt & ~decided
            decided |= ne
        }
        return nonZero != 0 && less == 1
    }
}

/// Hex string (even length, 0-9a-fA-F) to bytes; for constants and tests.
func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8? = nil
    for c in hex.utf8 {
        let v: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
        default: continue
        }
        if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
    }
    return out
}
