/// The on-disk shape of `state_dir/state.log`:
///
///     header:  "GWSTOR" (6 bytes) + format version (u16 LE)
///     record:  [u32 LE payload length][u32 LE CRC-32C of payload][payload]
///     payload: [u8 record version][u8 type][fields]
///
/// Fields are little-endian integers and u32-length-prefixed byte strings.
/// The first record is always the session key.
enum LogFormat {
    static let magic: [UInt8] = Array("GWSTOR".utf8)
    static let formatVersion: UInt16 = 1
    static let headerSize = 8
    static let recordVersion: UInt8 = 1
    /// Length + CRC in front of every payload.
    static let frameSize = 8
    /// No record of this store comes near it (a session's claims are the
    /// largest field); a bigger declared length inside the file is damage.
    static let maxPayload = 16 << 20

    static var header: [UInt8] {
        magic + [UInt8(formatVersion & 0xFF), UInt8(formatVersion >> 8)]
    }
}

/// Why a log could not be read, with the file offset of the bad bytes.
struct LogFormatError: Error, Equatable {
    enum Reason: Error, Equatable {
        /// The file ends inside this record: a write cut short by a crash.
        case torn
        /// The record is complete but its bytes do not match their CRC.
        case checksumMismatch
        case recordTooLarge(Int)
        case newerRecordVersion(UInt8)
        case newerFormatVersion(UInt16)
        case badMagic
        case malformed(String)
    }

    var offset: Int
    var reason: Reason

    /// One line naming the file and the offset.
    func message(path: String) -> String {
        switch reason {
        case .torn: return "\(path): torn record at offset \(offset)"
        case .checksumMismatch: return "\(path): corrupt record at offset \(offset) (checksum mismatch)"
        case .recordTooLarge(let n): return "\(path): corrupt record at offset \(offset) (declared length \(n))"
        case .newerRecordVersion(let v):
            return "\(path): record version \(v) at offset \(offset) is newer than this gateway understands"
        case .newerFormatVersion(let v):
            return "\(path): format version \(v) is newer than this gateway understands"
        case .badMagic: return "\(path): not a gateway state log (bad header)"
        case .malformed(let why): return "\(path): corrupt record at offset \(offset) (\(why))"
        }
    }
}

/// Little-endian field writer; records are framed in place, so a batch of
/// records is one contiguous buffer ready for one `write`.
struct LogRecordWriter {
    var bytes: [UInt8] = []
    private var recordStart = 0

    init(reservingCapacity n: Int = 0) { bytes.reserveCapacity(n) }

    /// Opens a record: room for its frame, then version and type.
    mutating func begin(_ type: LogRecordType) {
        recordStart = bytes.count
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])
        bytes.append(LogFormat.recordVersion)
        bytes.append(type.rawValue)
    }

    /// Closes the record opened by `begin`: fills in its length and CRC.
    mutating func end() {
        let payloadStart = recordStart + LogFormat.frameSize
        let length = UInt32(bytes.count - payloadStart)
        let crc = CRC32C.checksum(bytes, payloadStart..<bytes.count)
        for k in 0..<4 {
            bytes[recordStart + k] = UInt8(truncatingIfNeeded: length >> (8 * k))
            bytes[recordStart + 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k))
        }
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u32(_ v: UInt32) {
        for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }

    mutating func u64(_ v: UInt64) {
        for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }

    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    mutating func data(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func string(_ v: String) {
        var s = v
        s.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Bounds-checked little-endian reader over one payload inside a larger
/// buffer. Every read checks the payload's end first and throws; nothing
/// here traps on any input.
struct LogRecordReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    private let end: Int

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { position == end }

    private mutating func take(_ n: Int, _ what: String) throws(LogFormatError.Reason) -> Int {
        guard n >= 0, end - position >= n else { throw .malformed("\(what) runs past the record") }
        let at = position
        position += n
        return at
    }

    mutating func u8(_ what: String) throws(LogFormatError.Reason) -> UInt8 {
        bytes[try take(1, what)]
    }

    mutating func u32(_ what: String) throws(LogFormatError.Reason) -> UInt32 {
        let at = try take(4, what)
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    mutating func u64(_ what: String) throws(LogFormatError.Reason) -> UInt64 {
        let at = try take(8, what)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * k) }
        return v
    }

    mutating func i64(_ what: String) throws(LogFormatError.Reason) -> Int64 {
        Int64(bitPattern: try u64(what))
    }

    mutating func data(_ what: String) throws(LogFormatError.Reason) -> [UInt8] {
        let n = Int(try u32(what))
        let at = try take(n, what)
        return Array(bytes[at..<at + n])
    }

    mutating func string(_ what: String) throws(LogFormatError.Reason) -> String {
        let n = Int(try u32(what))
        let at = try take(n, what)
        // Ids and values are ASCII nearly always; for ASCII, decoding can
        // repair nothing, and the stdlib's non-generic decoder over a
        // buffer is the fast one (`String(validating:)` goes through
        // generic code: three times slower, at two strings a record).
        let s = bytes.withUnsafeBufferPointer { whole -> String? in
            let utf8 = UnsafeBufferPointer(rebasing: whole[at..<at + n])
            if Self.isASCII(utf8) { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }
        guard let s else { throw .malformed("\(what) is not UTF-8") }
        return s
    }

    /// No byte has its high bit set; eight at a time.
    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var i = 0
        var high: UInt64 = 0
        while bytes.count - i >= 8 {
            high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < bytes.count {
            high |= UInt64(bytes[i])
            i += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
