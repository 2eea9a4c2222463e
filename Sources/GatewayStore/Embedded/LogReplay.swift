/// Reads `state.log` back into a `StoreState` on open.
///
/// The file is read in large chunks into one reused buffer and decoded in
/// place. A torn last record (the file ends inside it, or it is the last
/// and fails its CRC) is what a crash mid-write leaves: it is skipped,
/// logged, and cut off so new appends follow the last good record. Any
/// other damage refuses the open: the log is never half-read.
enum LogReplay {
    static let defaultChunkSize = 8 << 20

    /// Replays `path` into `state`. Returns the size of the good prefix
    /// (the file is truncated to it), or nil when there is no log yet (no
    /// file, or an empty one).
    ///
    /// `batcher`, when given, sees every record applied, in order (it
    /// flushes nothing: the caller does, once the replay is over).
    static func replay(path: String, into state: StoreState, batcher: inout ReplayBatcher?,
                       log: (String) -> Void) throws(StoreError) -> Int? {
        let size: Int?
        do { size = try PosixFiles.size(path) } catch { throw .open(error.description) }
        guard let size, size > 0 else { return nil }
        let failure: LogFormatError
        do { return try read(path: path, size: size, into: state, batcher: &batcher) } catch { failure = error }
        guard failure.reason == .torn else { throw .open(failure.message(path: path)) }
        log(failure.message(path: path) + " skipped")
        do {
            let file = try PosixLogFile(path: path, create: false)
            defer { file.close() }
            try file.truncate(to: failure.offset)
            try file.sync()
        } catch {
            throw .open(error.description)
        }
        return failure.offset
    }

    /// Decodes every record of the file; throws at the first bad one.
    static func read(path: String, size: Int, into state: StoreState, batcher: inout ReplayBatcher?,
                     chunkSize: Int = defaultChunkSize) throws(LogFormatError) -> Int {
        let reader: ChunkedFileReader
        do { reader = try ChunkedFileReader(path: path) } catch {
            throw LogFormatError(offset: 0, reason: .malformed(error.description))
        }
        var buffer = [UInt8](repeating: 0, count: min(chunkSize, max(size, LogFormat.headerSize)))
        // EOF is where the file ended when opened: nothing else writes it
        // (the lock is held), and a short read is not needed to see it.
        var end = try fill(reader, &buffer, from: 0)
        var atEOF = end < buffer.count || end >= size
        try checkHeader(buffer, end: end)
        // This thread frames and decodes; the applier applies, behind it.
        let applier = ReplayApplier(state: state, batcher: batcher)
        let readFailure: LogFormatError?
        let goodSize: Int
        do throws(LogFormatError) {
            goodSize = try decodeAll(reader, &buffer, end: &end, atEOF: &atEOF, size: size, into: applier)
            readFailure = nil
        } catch {
            goodSize = 0
            readFailure = error
        }
        let applied = applier.finish()
        batcher = applied.batcher
        // A record that failed to apply came before anything the reader
        // stopped at: the applier only had records before that.
        if let failure = applied.failure ?? readFailure { throw failure }
        return goodSize
    }

    /// Frames and decodes every record after the header, handing each to
    /// `applier`; throws at the first that does not frame or decode.
    private static func decodeAll(_ reader: ChunkedFileReader, _ buffer: inout [UInt8], end: inout Int,
                                  atEOF: inout Bool, size: Int,
                                  into applier: ReplayApplier) throws(LogFormatError) -> Int {
        var start = LogFormat.headerSize
        var base = 0   // file offset of buffer[0]
        var records = 0
        while true {
            if start == end && atEOF { break }
            let step = try LogFrameScanner.step(buffer, start: start, end: end, fileOffset: base + start, atEOF: atEOF)
            switch step {
            case .record(let payload, let next):
                do throws(LogFormatError.Reason) {
                    applier.add(try LogRecord.decode(buffer, payload), number: records, offset: base + start)
                } catch {
                    throw LogFormatError(offset: base + start, reason: error)
                }
                records += 1
                start = next
            case .needMore:
                // Keep the partial record, at the front, and read on.
                let keep = end - start
                if start == 0 {
                    buffer.append(contentsOf: repeatElement(0, count: buffer.count))
                } else {
                    for k in 0..<keep { buffer[k] = buffer[start + k] }
                }
                base += start
                start = 0
                let got = try fill(reader, &buffer, from: keep)
                end = keep + got
                atEOF = end < buffer.count || base + end >= size
            }
        }
        return base + end
    }

    /// Applies the `number`th record (from 0); the first must be the key.
    static func apply(_ record: LogRecord, number: Int, to state: StoreState) throws(LogFormatError.Reason) {
        if number == 0 {
            guard case .sessionKey = record else { throw .malformed("the first record is not the session key") }
        }
        try state.apply(record)
    }

    private static func fill(_ reader: ChunkedFileReader, _ buffer: inout [UInt8], from: Int) throws(LogFormatError) -> Int {
        do { return try reader.fill(&buffer, from: from) } catch {
            throw LogFormatError(offset: 0, reason: .malformed(error.description))
        }
    }

    static func checkHeader(_ bytes: [UInt8], end: Int) throws(LogFormatError) {
        guard end >= LogFormat.headerSize,
              bytes[0..<LogFormat.magic.count].elementsEqual(LogFormat.magic) else {
            throw LogFormatError(offset: 0, reason: .badMagic)
        }
        let version = UInt16(bytes[6]) | UInt16(bytes[7]) << 8
        guard version >= 1 else { throw LogFormatError(offset: 0, reason: .badMagic) }
        guard version <= LogFormat.formatVersion else {
            throw LogFormatError(offset: 0, reason: .newerFormatVersion(version))
        }
    }
}

/// Entry point for fuzzing and tools: decodes a whole log image in memory
/// and reports the first problem, never trapping on any input.
public enum EmbeddedLogCheck {
    /// The number of records in `bytes`, or a message naming the offset.
    public static func check(_ bytes: [UInt8]) -> Result<Int, EmbeddedLogCheckError> {
        let state = StoreState()
        do throws(LogFormatError) {
            try LogReplay.checkHeader(bytes, end: bytes.count)
            var start = LogFormat.headerSize
            var records = 0
            while start < bytes.count {
                let step = try LogFrameScanner.step(bytes, start: start, end: bytes.count,
                                                    fileOffset: start, atEOF: true)
                guard case .record(let payload, let next) = step else { break }
                do throws(LogFormatError.Reason) {
                    try LogReplay.apply(LogRecord.decode(bytes, payload), number: records, to: state)
                } catch {
                    throw LogFormatError(offset: start, reason: error)
                }
                records += 1
                start = next
            }
            return .success(records)
        } catch {
            return .failure(EmbeddedLogCheckError(offset: error.offset, message: error.message(path: "log"),
                                                  isTornTail: error.reason == .torn))
        }
    }
}

public struct EmbeddedLogCheckError: Error, Equatable {
    public var offset: Int
    public var message: String
    /// A record cut short at the end: what opening skips instead of refusing.
    public var isTornTail: Bool
}
