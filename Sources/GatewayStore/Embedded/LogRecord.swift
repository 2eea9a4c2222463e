import GatewayAuth

/// The record types of the log (the payload's second byte). Values are on
/// disk: never renumber.
enum LogRecordType: UInt8 {
    case sessionKey = 1
    case revocationAdded = 2
    case revocationRemoved = 3
    case sessionStarted = 4
    case tokenUsed = 5
    /// One refresh token as it stands, written only by compaction (the
    /// chain of `tokenUsed` records that made it is gone by then).
    case tokenState = 6
}

/// A refresh token as the store keeps it, by hash. Times are unix ms.
struct TokenState: Equatable {
    var sid: String
    var issued: Int64
    /// The refresh TTL it was issued under: when the sweep may drop it.
    var ttl: Int64
    var usedAt: Int64?
    var successor: [UInt8]?

    var expiresAt: Int64 { issued &+ ttl }
}

/// One decoded log record.
enum LogRecord: Equatable {
    /// The 32-byte key successors are derived under; always the first record.
    case sessionKey([UInt8])
    /// Added, or `until` extended (same id, same seq).
    case revocationAdded(Revocation, seq: UInt64)
    case revocationRemoved(id: String)
    /// A session and its first refresh token (an empty hash: none, as
    /// compaction writes it, with the tokens following as `tokenState`).
    case sessionStarted(SessionRecord, firstToken: [UInt8], issued: Int64, ttl: Int64)
    /// `hash` used at `usedAt`; `successor` issued then, under `ttl`.
    case tokenUsed(hash: [UInt8], usedAt: Int64, successor: [UInt8], ttl: Int64)
    case tokenState(hash: [UInt8], TokenState)
}

extension LogRecord {
    /// Appends this record, framed, to `w`.
    func encode(into w: inout LogRecordWriter) {
        switch self {
        case .sessionKey(let key):
            w.begin(.sessionKey)
            w.data(key)
        case .revocationAdded(let r, let seq):
            w.begin(.revocationAdded)
            w.string(r.id)
            switch r.target {
            case .jti(let v): w.u8(0); w.string(v); w.i64(0)
            case .sid(let v): w.u8(1); w.string(v); w.i64(0)
            case .subject(let v, let before): w.u8(2); w.string(v); w.i64(before)
            }
            w.i64(r.created)
            w.i64(r.until)
            w.u64(seq)
        case .revocationRemoved(let id):
            w.begin(.revocationRemoved)
            w.string(id)
        case .sessionStarted(let s, let first, let issued, let ttl):
            w.begin(.sessionStarted)
            w.string(s.sid)
            w.string(s.sub)
            w.data(s.claims)
            w.i64(s.start)
            w.i64(s.expires)
            w.data(first)
            w.i64(issued)
            w.i64(ttl)
        case .tokenUsed(let hash, let usedAt, let successor, let ttl):
            w.begin(.tokenUsed)
            w.data(hash)
            w.i64(usedAt)
            w.data(successor)
            w.i64(ttl)
        case .tokenState(let hash, let t):
            w.begin(.tokenState)
            w.data(hash)
            w.string(t.sid)
            w.i64(t.issued)
            w.i64(t.ttl)
            w.u8(t.usedAt == nil ? 0 : 1)
            w.i64(t.usedAt ?? 0)
            w.data(t.successor ?? [])
        }
        w.end()
    }

    /// Decodes one payload (version byte onwards) at `range` of `bytes`.
    /// Throws for a newer record version, an unknown type, a field running
    /// past the payload, trailing bytes or an impossible value.
    static func decode(_ bytes: [UInt8], _ range: Range<Int>) throws(LogFormatError.Reason) -> LogRecord {
        var r = LogRecordReader(bytes, range)
        let version = try r.u8("record version")
        guard version <= LogFormat.recordVersion else { throw .newerRecordVersion(version) }
        guard version >= 1 else { throw .malformed("record version 0") }
        let rawType = try r.u8("record type")
        guard let type = LogRecordType(rawValue: rawType) else { throw .malformed("unknown record type \(rawType)") }
        let record: LogRecord
        switch type {
        case .sessionKey:
            let key = try r.data("session key")
            guard key.count == 32 else { throw .malformed("session key of \(key.count) bytes") }
            record = .sessionKey(key)
        case .revocationAdded:
            let id = try r.string("revocation id")
            let kind = try r.u8("revocation kind")
            let value = try r.string("revocation value")
            let before = try r.i64("revocation before")
            let target: Revocation.Target
            switch kind {
            case 0: target = .jti(value)
            case 1: target = .sid(value)
            case 2: target = .subject(value, before: before)
            default: throw .malformed("unknown revocation kind \(kind)")
            }
            let created = try r.i64("revocation created")
            let until = try r.i64("revocation until")
            let seq = try r.u64("revocation seq")
            guard seq > 0, seq < UInt64.max / 2 else { throw .malformed("revocation seq \(seq)") }
            record = .revocationAdded(Revocation(id: id, target: target, created: created, until: until), seq: seq)
        case .revocationRemoved:
            record = .revocationRemoved(id: try r.string("revocation id"))
        case .sessionStarted:
            let sid = try r.string("session id")
            let sub = try r.string("session sub")
            let claims = try r.data("session claims")
            let start = try r.i64("session start")
            let expires = try r.i64("session expires")
            let first = try r.data("first token hash")
            let issued = try r.i64("token issued")
            let ttl = try r.i64("token ttl")
            record = .sessionStarted(SessionRecord(sid: sid, sub: sub, claims: claims, start: start, expires: expires),
                                     firstToken: first, issued: issued, ttl: ttl)
        case .tokenUsed:
            let hash = try r.data("token hash")
            let usedAt = try r.i64("token used at")
            let successor = try r.data("successor hash")
            let ttl = try r.i64("token ttl")
            record = .tokenUsed(hash: hash, usedAt: usedAt, successor: successor, ttl: ttl)
        case .tokenState:
            let hash = try r.data("token hash")
            let sid = try r.string("token session id")
            let issued = try r.i64("token issued")
            let ttl = try r.i64("token ttl")
            let used = try r.u8("token used flag")
            let usedAt = try r.i64("token used at")
            let successor = try r.data("successor hash")
            guard used <= 1 else { throw .malformed("token used flag \(used)") }
            record = .tokenState(hash: hash, TokenState(sid: sid, issued: issued, ttl: ttl,
                                                       usedAt: used == 1 ? usedAt : nil,
                                                       successor: successor.isEmpty ? nil : successor))
        }
        guard r.isAtEnd else { throw .malformed("trailing bytes in record") }
        return record
    }
}

/// Splits a buffer of log bytes into records: framing and CRC only.
enum LogFrameScanner {
    enum Step {
        /// A record's payload is `payload`; the next starts at `next`.
        case record(payload: Range<Int>, next: Int)
        /// The buffer ends inside a record: read more (or, at EOF, torn).
        case needMore
    }

    /// Looks at the record starting at `start`, with valid bytes up to
    /// `end`. `fileOffset` is the file position of `bytes[start]` and
    /// `atEOF` whether `end` is the end of the file.
    static func step(_ bytes: [UInt8], start: Int, end: Int, fileOffset: Int,
                     atEOF: Bool) throws(LogFormatError) -> Step {
        let available = end - start
        if available < LogFormat.frameSize {
            if atEOF { throw LogFormatError(offset: fileOffset, reason: .torn) }
            return .needMore
        }
        let length = Int(UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8
                         | UInt32(bytes[start + 2]) << 16 | UInt32(bytes[start + 3]) << 24)
        let crc = UInt32(bytes[start + 4]) | UInt32(bytes[start + 5]) << 8
            | UInt32(bytes[start + 6]) << 16 | UInt32(bytes[start + 7]) << 24
        // No writer of this store makes a larger record: a length past the
        // limit is damage, never a write cut short, even at the end.
        if length > LogFormat.maxPayload {
            throw LogFormatError(offset: fileOffset, reason: .recordTooLarge(length))
        }
        if available - LogFormat.frameSize < length {
            if atEOF { throw LogFormatError(offset: fileOffset, reason: .torn) }
            return .needMore
        }
        let payload = (start + LogFormat.frameSize)..<(start + LogFormat.frameSize + length)
        guard CRC32C.checksum(bytes, payload) == crc else {
            // The last record with a bad CRC is a write cut short; anything
            // after it means the damage is inside the file.
            let last = atEOF && payload.upperBound == end
            throw LogFormatError(offset: fileOffset, reason: last ? .torn : .checksumMismatch)
        }
        return .record(payload: payload, next: payload.upperBound)
    }
}
