/// Where `HeadWriter` writes a head: a window of memory it does not own
/// (a socket's reserved output space, so the head is written once, in
/// place), filled front to back. Appends are a bounds check and a copy: the
/// twenty-odd small appends of a head cost ~100 instructions each on a
/// growable array. What does not fit is refused whole and `overflowed`
/// says so; the caller then writes the head again into a larger window.
public struct HeadCursor {
    private let base: UnsafeMutablePointer<UInt8>?
    public let capacity: Int
    public private(set) var count = 0
    /// Something did not fit: the bytes written are not a whole head.
    public private(set) var overflowed = false

    public init(_ window: UnsafeMutableRawBufferPointer) {
        base = window.baseAddress?.assumingMemoryBound(to: UInt8.self)
        capacity = window.count
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        guard let base, count < capacity else { overflowed = true; return }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        guard let base, let from = bytes.baseAddress, n <= capacity - count else { overflowed = true; return }
        UnsafeMutableRawPointer(base + count).copyMemory(from: from, byteCount: n)
        count += n
    }

    @inline(__always)
    mutating func append(_ slice: ArraySlice<UInt8>) { slice.withUnsafeBytes { append($0) } }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    @inline(__always)
    mutating func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Decimal digits of `value`, from a stack buffer.
    mutating func appendDecimal(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var v = value
            var i = 20
            repeat {
                i -= 1
                digits[i] = 0x30 + UInt8(v % 10)
                v /= 10
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i...]))
        }
    }

    /// Drops what was written after the first `n` bytes.
    mutating func truncate(to n: Int) {
        precondition(n >= 0 && n <= count)
        count = n
    }

    /// Writes with `write` into `out`'s end: a window of `bound` bytes,
    /// doubled until the head fits. For the paths that keep a byte array
    /// (tests, fuzzers, the gateway's own small answers).
    public static func append(to out: inout [UInt8], bound: Int, _ write: (inout HeadCursor) -> Void) {
        var size = max(bound, 64)
        let start = out.count
        while true {
            out.append(contentsOf: repeatElement(0, count: size))
            let written: Int? = out.withUnsafeMutableBytes { raw in
                var cursor = HeadCursor(UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
                write(&cursor)
                return cursor.overflowed ? nil : cursor.count
            }
            out.removeSubrange((start + (written ?? 0))...)
            if written != nil { return }
            size *= 2
        }
    }
}
