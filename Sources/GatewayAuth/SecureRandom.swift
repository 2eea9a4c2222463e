import COpenSSL

/// Cryptographically strong random bytes from OpenSSL's DRBG (RAND_bytes).
public enum SecureRandom {
    /// `count` random bytes; throws when the DRBG is not seeded.
    public static func bytes(_ count: Int) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count == 0 { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        guard ok == 1 else { throw OpenSSLError.capture("RAND_bytes") }
        return out
    }
}
