import Testing
@testable import GatewayCore

/// What decoding produced: payload, where the body ended (offset in the whole input), or the error.
struct ChunkOutcome: Equatable {
    var payload: [UInt8] = []
    var end: Int?
    var error: HTTPParseError?
}

/// Decodes `input` fed in pieces ending at `cuts`, draining each step as a caller would.
func decodeChunks(_ input: [UInt8], cuts: [Int], maxTrailer: Int = 8192) -> ChunkOutcome {
    var decoder = ChunkedDecoder(maxTrailerBytes: maxTrailer)
    var out = ChunkOutcome()
    var offset = 0
    for cut in cuts + [input.count] where cut > offset {
        var pos = offset
        while true {
            let step = input[pos..<cut].withUnsafeBytes { decoder.next($0) }
            switch step {
            case .data(let o, let c, let consumed):
                #expect(c > 0 && consumed == o + c)
                out.payload.append(contentsOf: input[(pos + o)..<(pos + o + c)])
                pos += consumed
                continue
            case .needMore(let consumed):
                #expect(consumed == cut - pos)
            case .end(let consumed):
                out.end = pos + consumed
                return out
            case .failed(let e):
                out.error = e
                return out
            }
            break
        }
        offset = cut
    }
    return out
}

/// Same result whole, split at every offset, byte by byte.
func decodeAllWays(_ s: String, maxTrailer: Int = 8192,
                   sourceLocation: SourceLocation = #_sourceLocation) -> ChunkOutcome {
    let input = bytes(s)
    let whole = decodeChunks(input, cuts: [], maxTrailer: maxTrailer)
    for split in 0...input.count {
        let o = decodeChunks(input, cuts: [split], maxTrailer: maxTrailer)
        if o != whole {
            Issue.record("split at \(split): \(o) != \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    #expect(decodeChunks(input, cuts: Array(0...input.count), maxTrailer: maxTrailer) == whole,
            sourceLocation: sourceLocation)
    return whole
}

enum ChunkFixture {
    static let twoChunks = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    static let withExtensions = "5;name\r\nhello\r\n6 ; a=b;c = \"q \\\" d\"\r\n world\r\n0;last\r\n\r\n"
    static let withTrailers = "A\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n"
    static let upperHex = "1F\r\n" + String(repeating: "z", count: 31) + "\r\n0\r\n\r\n"
}

@Suite struct ChunkedDecoderTests {
    @Test func decodesPayloadAndStopsAtTheEnd() {
        let o = decodeAllWays(ChunkFixture.twoChunks + "GET / HTTP/1.1\r\n")
        #expect(o.payload == bytes("hello world"))
        #expect(o.end == ChunkFixture.twoChunks.utf8.count)
        #expect(o.error == nil)
    }

    @Test func extensionsAreValidatedAndIgnored() {
        #expect(decodeAllWays(ChunkFixture.withExtensions).payload == bytes("hello world"))
        #expect(decodeAllWays("5;\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5;a=\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5;a=\"x\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5;a=b c\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5;a@\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        let long = "5;a=" + String(repeating: "b", count: 5000) + "\r\nhello\r\n0\r\n\r\n"
        #expect(decodeChunks(bytes(long), cuts: []).error == .badChunk)
    }

    @Test func trailersAreCheckedAndDiscarded() {
        let o = decodeAllWays(ChunkFixture.withTrailers)
        #expect(o.payload == bytes("0123456789") && o.end == ChunkFixture.withTrailers.utf8.count)
        #expect(decodeAllWays("0\r\nX : a\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("0\r\nX: a\r\n b\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("0\r\nX: a\u{0}\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("0\r\nX: a\n\r\n").error == .badChunk)
        let big = "0\r\nX: " + String(repeating: "v", count: 100) + "\r\n\r\n"
        #expect(decodeAllWays(big, maxTrailer: 64).error == .trailerTooLarge)
        #expect(decodeAllWays(big, maxTrailer: big.utf8.count - 3).error == nil)   // exactly at the limit
        #expect(decodeAllWays(big, maxTrailer: big.utf8.count - 4).error == .trailerTooLarge)
    }

    @Test func chunkSizeSmugglingVectors() {
        #expect(decodeAllWays("0x5\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("-1\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("+5\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays(" 5\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5 \r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("g\r\n").error == .badChunk)
        // 17 hex digits, even with leading zeros.
        #expect(decodeAllWays("00000000000000005\r\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("10000000000000000\r\n").error == .badChunk)
        // 16 digits are fine (the size just has to arrive).
        #expect(decodeAllWays("FFFFFFFFFFFFFFFF\r\nab").payload == bytes("ab"))
        #expect(decodeAllWays("0000000000000005\r\nhello\r\n0\r\n\r\n").payload == bytes("hello"))
        // Missing or wrong CRLF after data.
        #expect(decodeAllWays("5\r\nhelloX\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5\r\nhello0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5\r\nhello\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("5\r\nhello\r0\r\n\r\n").error == .badChunk)
        // Bare LF after the size and at the end.
        #expect(decodeAllWays("5\nhello\r\n0\r\n\r\n").error == .badChunk)
        #expect(decodeAllWays("0\r\n\n").error == .badChunk)
        #expect(decodeAllWays("0\n\r\n").error == .badChunk)
        #expect(decodeAllWays(ChunkFixture.upperHex).payload.count == 31)
    }

    @Test func incompleteBodyNeedsMore() {
        let o = decodeAllWays("5\r\nhel")
        #expect(o.payload == bytes("hel") && o.end == nil && o.error == nil)
    }

    @Test func afterEndAndAfterFailure() {
        var d = ChunkedDecoder()
        #expect(bytes("0\r\n\r\n").withUnsafeBytes { d.next($0) } == .end(consumed: 5))
        #expect(d.isFinished)
        #expect(bytes("x").withUnsafeBytes { d.next($0) } == .end(consumed: 0))
        d.reset()
        #expect(bytes("z").withUnsafeBytes { d.next($0) } == .failed(.badChunk))
        #expect(bytes("0\r\n\r\n").withUnsafeBytes { d.next($0) } == .failed(.badChunk))
    }

    @Test func encodeChunkHeader() {
        func header(_ n: Int) -> String {
            var out: [UInt8] = []
            ChunkedDecoder.encodeChunkHeader(n, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(header(0) == "0\r\n")
        #expect(header(5) == "5\r\n")
        #expect(header(255) == "ff\r\n")
        #expect(header(0x10000) == "10000\r\n")
        #expect(header(Int.max) == "7fffffffffffffff\r\n")
        #expect(ChunkedDecoder.crlf == bytes("\r\n"))
        #expect(ChunkedDecoder.lastChunk == bytes("0\r\n\r\n"))
        // Round trip.
        var body: [UInt8] = []
        ChunkedDecoder.encodeChunkHeader(300, into: &body)
        body += [UInt8](repeating: 7, count: 300) + ChunkedDecoder.crlf + ChunkedDecoder.lastChunk
        let o = decodeChunks(body, cuts: [7, 100])
        #expect(o.payload == [UInt8](repeating: 7, count: 300) && o.end == body.count)
    }
}
