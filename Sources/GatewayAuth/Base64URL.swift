/// Strict base64url without padding (RFC 7515 §2, RFC 4648 §5), on bytes.
///
/// Decoding accepts only `A-Z a-z 0-9 - _`; no `=`, no whitespace, no `+` or
/// `/`. An input length with remainder 1 (mod 4) cannot come from any byte
/// string and is refused, and the unused low bits of the last character must
/// be zero (RFC 4648 §3.5, "canonical encoding"), so every byte string has
/// exactly one accepted encoding and tokens cannot be altered invisibly.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 0xFF marks bytes outside the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Decoded size for an encoded length, or nil when the length is impossible.
    public static func decodedCount(_ encodedCount: Int) -> Int? {
        switch encodedCount % 4 {
        case 1: return nil
        case 0: return encodedCount / 4 * 3
        case let r: return encodedCount / 4 * 3 + (r - 1)
        }
    }

    /// Appends the decoding of `input` to `out`. Returns false (with `out`
    /// possibly partly written) on any violation of the rules above.
    public static func decode(_ input: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) -> Bool {
        guard let count = decodedCount(input.count) else { return false }
        out.reserveCapacity(out.count + count)
        return decodeTable.withUnsafeBufferPointer { table in
            var i = 0
            let n = input.count
            while i + 4 <= n {
                let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                let c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
                if (a | b | c | d) & 0xC0 != 0 { return false }
                let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out.append(UInt8(truncatingIfNeeded: v >> 16))
                out.append(UInt8(truncatingIfNeeded: v >> 8))
                out.append(UInt8(truncatingIfNeeded: v))
                i += 4
            }
            switch n - i {
            case 0:
                return true
            case 2:
                let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                if (a | b) & 0xC0 != 0 || b & 0x0F != 0 { return false }
                out.append(a << 2 | b >> 4)
                return true
            case 3:
                let a = table[Int(input[i])], b = table[Int(input[i + 1])], c = table[Int(input[i + 2])]
                if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 { return false }
                out.append(a << 2 | b >> 4)
                out.append((b & 0x0F) << 4 | c >> 2)
                return true
            default:
                return false
            }
        }
    }

    /// Writes the decoding of `input` to the start of `out` and returns its
    /// length, or nil on any violation of the rules above or when `out` is
    /// shorter than `decodedCount(input.count)` (`out` possibly partly
    /// written). No allocation: for per-worker scratch buffers.
    public static func decode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard let count = decodedCount(input.count), count <= out.count else { return nil }
        return decodeTable.withUnsafeBufferPointer { table -> Int? in
            var i = 0, o = 0
            let n = input.count
            while i + 4 <= n {
                let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                let c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
                if (a | b | c | d) & 0xC0 != 0 { return nil }
                let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out[o] = UInt8(truncatingIfNeeded: v >> 16)
                out[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                out[o + 2] = UInt8(truncatingIfNeeded: v)
                i += 4
                o += 3
            }
            switch n - i {
            case 0:
                return o
            case 2:
                let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                if (a | b) & 0xC0 != 0 || b & 0x0F != 0 { return nil }
                out[o] = a << 2 | b >> 4
                return o + 1
            case 3:
                let a = table[Int(input[i])], b = table[Int(input[i + 1])], c = table[Int(input[i + 2])]
                if (a | b | c) & 0xC0 != 0 || c & 0x03 != 0 { return nil }
                out[o] = a << 2 | b >> 4
                out[o + 1] = (b & 0x0F) << 4 | c >> 2
                return o + 2
            default:
                return nil
            }
        }
    }

    /// The decoding of `input`, or nil when it is not strict base64url.
    public static func decode(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        var out: [UInt8] = []
        return decode(input, appendingTo: &out) ? out : nil
    }

    public static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        if let result = input.withContiguousStorageIfAvailable({ decode(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(input).withUnsafeBytes { decode($0) }
    }

    public static func decode(_ input: String) -> [UInt8]? { decode(Array(input.utf8)) }

    /// Appends the unpadded base64url encoding of `input` to `out`. The
    /// output is sized once and written in place (an `append` per
    /// character cost a capacity and uniqueness check each).
    public static func encode(_ input: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) {
        let n = input.count
        let encodedCount = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1)
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: encodedCount))
        out.withUnsafeMutableBufferPointer { o in
            alphabet.withUnsafeBufferPointer { table in
                var i = 0, j = start
                while i + 3 <= n {
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    o[j] = table[Int(v >> 18 & 0x3F)]
                    o[j + 1] = table[Int(v >> 12 & 0x3F)]
                    o[j + 2] = table[Int(v >> 6 & 0x3F)]
                    o[j + 3] = table[Int(v & 0x3F)]
                    i += 3
                    j += 4
                }
                switch n - i {
                case 1:
                    let v = UInt32(input[i]) << 16
                    o[j] = table[Int(v >> 18 & 0x3F)]
                    o[j + 1] = table[Int(v >> 12 & 0x3F)]
                case 2:
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                    o[j] = table[Int(v >> 18 & 0x3F)]
                    o[j + 1] = table[Int(v >> 12 & 0x3F)]
                    o[j + 2] = table[Int(v >> 6 & 0x3F)]
                default:
                    break
                }
            }
        }
    }

    public static func encode(_ input: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        if input.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0), appendingTo: &out) }) == nil {
            Array(input).withUnsafeBytes { encode($0, appendingTo: &out) }
        }
        return out
    }

    public static func encodeToString(_ input: some Collection<UInt8>) -> String {
        String(decoding: encode(input), as: UTF8.self)
    }
}
