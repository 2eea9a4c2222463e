import COpenSSL

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True when `a` and `b` are equal. Lengths are public (a MAC's length is
    /// fixed by its algorithm), so a length mismatch returns at once;
    /// the contents are compared with CRYPTO_memcmp.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return false }
        return CRYPTO_memcmp(pa, pb, a.count) == 0
    }

    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equals(pa, pb) } }
    }
}
