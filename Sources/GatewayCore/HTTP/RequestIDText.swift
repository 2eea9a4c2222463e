/// The gateway's own request ids: a 64-bit number as 16 lower-case hex
/// digits, written straight into the head or log line being built.
public enum RequestIDText {
    public static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
        var shift = 60
        while shift >= 0 {
            let d = UInt8((value >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? 0x30 + d : 0x61 + d - 10)
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
