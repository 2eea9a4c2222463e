#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain byte-string equality with memcmp, for the per-worker memo and
/// cache keys (the generic `elementsEqual` costs ~25 instructions a byte).
/// Not constant-time, and needs not be: what is compared is no secret
/// (a token against a cached token found under a keyed hash, or a header
/// segment); MACs go through `ConstantTime`.
enum ByteEquality {
    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return a.count == 0 }
        return memcmp(pa, pb, a.count) == 0
    }
}
