import Testing
@testable import GatewayStore
import GatewayAuth

@Suite("Embedded store: log records")
struct EmbeddedStoreRecordTests {
    static let session = SessionRecord(sid: "s-1", sub: "alice", claims: Array(#"{"role":"admin"}"#.utf8),
                                       start: 1_800_000_000_123, expires: 1_802_592_000_123)

    static let samples: [LogRecord] = [
        .sessionKey([UInt8](0..<32)),
        .revocationAdded(Revocation(target: .jti("tok-1"), created: 1_800_000_000, until: 1_800_003_600), seq: 1),
        .revocationAdded(Revocation(target: .sid("s-1"), created: 1_800_000_000, until: 1_802_592_001), seq: 2),
        .revocationAdded(Revocation(target: .subject("alice", before: 1_799_999_999), created: 5, until: 9), seq: 77),
        .revocationRemoved(id: Revocation.id(for: .jti("tok-1"))),
        .sessionStarted(session, firstToken: hash("t0"), issued: 1_800_000_000_123, ttl: 604_800_000),
        .sessionStarted(session, firstToken: [], issued: 0, ttl: 0),
        .tokenUsed(hash: hash("t0"), usedAt: 1_800_000_100_000, successor: hash("t1"), ttl: 604_800_000),
        .tokenState(hash: hash("t1"), TokenState(sid: "s-1", issued: 1, ttl: 2, usedAt: nil, successor: nil)),
        .tokenState(hash: hash("t2"), TokenState(sid: "s-1", issued: 3, ttl: 4, usedAt: 5, successor: hash("t3"))),
    ]

    /// Encodes `records` behind a header, as a log file holds them.
    static func image(_ records: [LogRecord]) -> [UInt8] {
        var w = LogRecordWriter()
        w.bytes = LogFormat.header
        for r in records { r.encode(into: &w) }
        return w.bytes
    }

    @Test func crc32cKnownAnswer() {
        // RFC 3720 B.4 check value.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        // The 8-byte fold and the byte tail agree wherever the range starts.
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        for start in 0..<9 {
            var slow: UInt32 = 0xFFFF_FFFF
            for b in data[start...] {
                slow ^= UInt32(b)
                for _ in 0..<8 { slow = (slow & 1) != 0 ? (slow >> 1) ^ 0x82F6_3B78 : slow >> 1 }
            }
            #expect(CRC32C.checksum(data, start..<data.count) == ~slow)
        }
    }

    @Test(arguments: samples)
    func roundTrip(_ record: LogRecord) throws {
        var w = LogRecordWriter()
        record.encode(into: &w)
        let step = try LogFrameScanner.step(w.bytes, start: 0, end: w.bytes.count, fileOffset: 0, atEOF: true)
        guard case .record(let payload, let next) = step else {
            Issue.record("no record")
            return
        }
        #expect(next == w.bytes.count)
        #expect(try LogRecord.decode(w.bytes, payload) == record)
    }

    @Test func wholeImageChecks() {
        let image = Self.image(Self.samples)
        #expect(EmbeddedLogCheck.check(image) == .success(Self.samples.count))
    }

    @Test func randomBytesAreRejectedWithoutTrapping() {
        var rng = SplitMix(state: 42)
        for round in 0..<3000 {
            let count = Int.random(in: 0..<300, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Half the rounds get past the header, to reach the record decoder.
            if round % 2 == 0 { bytes = LogFormat.header + bytes }
            if case .success(let n) = EmbeddedLogCheck.check(bytes) {
                // Only a header with nothing after it is a valid (empty) log.
                #expect(n == 0 && bytes.count == LogFormat.headerSize)
            }
        }
    }

    @Test func framedGarbagePayloadsAreRejected() {
        // Valid frames and CRCs around random payloads: only the decoder stands guard.
        var rng = SplitMix(state: 7)
        for _ in 0..<3000 {
            var w = LogRecordWriter()
            w.bytes = LogFormat.header
            w.begin(.sessionKey)
            w.bytes.removeLast(2)
            let count = Int.random(in: 0..<120, using: &rng)
            var payload = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if count > 0 { payload[0] = 1 }            // a known record version
            if count > 1 { payload[1] = UInt8.random(in: 1...6, using: &rng) }   // a known type
            w.bytes += payload
            w.end()
            _ = EmbeddedLogCheck.check(w.bytes)   // must return, success or not
        }
    }

    @Test func everySingleByteFlipIsDetected() {
        let image = Self.image(Self.samples)
        for i in LogFormat.headerSize..<image.count {
            var damaged = image
            damaged[i] ^= 0x5A
            guard case .failure = EmbeddedLogCheck.check(damaged) else {
                Issue.record("flip at \(i) went unnoticed")
                continue
            }
        }
    }

    @Test func newerRecordVersionIsNamed() {
        var w = LogRecordWriter()
        w.bytes = LogFormat.header
        LogRecord.sessionKey([UInt8](repeating: 1, count: 32)).encode(into: &w)
        let offset = w.bytes.count
        w.begin(.revocationRemoved)
        w.bytes[offset + LogFormat.frameSize] = 7
        w.string("x")
        w.end()
        guard case .failure(let e) = EmbeddedLogCheck.check(w.bytes) else {
            Issue.record("accepted")
            return
        }
        #expect(e.offset == offset)
        #expect(e.message == "log: record version 7 at offset \(offset) is newer than this gateway understands")
    }
}

extension LogRecord: CustomTestStringConvertible {
    public var testDescription: String { "\(self)".prefix(60).description }
}
