/// The gateway's own request ids: a 64-bit number as 16 lower-case hex
/// digits, written straight into the head or log line being built.
public enum RequestIDText {
    public static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
        // Digits on the stack, then one append (16 appends cost ~380 instructions).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
            fill(digits, value)
            out.append(contentsOf: UnsafeBufferPointer(digits))
        }
    }

    public static func appendHex(_ value: UInt64, to out: inout HeadCursor) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
            fill(digits, value)
            out.append(UnsafeRawBufferPointer(digits))
        }
    }

    private static func fill(_ digits: UnsafeMutableBufferPointer<UInt8>, _ value: UInt64) {
        var shift = 60
        for i in 0..<16 {
            let d = UInt8((value >> UInt64(shift)) & 0xF)
            digits[i] = d < 10 ? 0x30 + d : 0x61 + d - 10
            shift -= 4
        }
    }

    public static func hex(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        appendHex(value, to: &out)
        return out
    }
}
