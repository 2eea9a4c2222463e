// Fuzz target for the HTTP/1.1 head parser, chunked decoder and head writer.
//
// Built normally it replays files (or directories of files) given as
// arguments, which is how crashes found by the fuzzer are re-run and how the
// seed corpus stays exercised. Built with `-D FUZZING -sanitize=fuzzer`
// (see scripts/fuzz.sh http) `main` hands control to libFuzzer.
//
// Invariants checked on every input (a violation aborts, which libFuzzer
// records as a crash):
//  - `consumed` never exceeds the input; a complete head's ranges lie inside
//    its bytes, and its bytes are exactly the consumed input minus skipped
//    leading empty lines, ending in CRLF CRLF;
//  - the result is the same whole, split at a point taken from the first
//    byte, and byte by byte (request and response mode);
//  - the chunked decoder yields the same payload and end offset whole, split
//    and byte by byte, and always makes progress;
//  - a head rewritten by HeadWriter parses again with the normalized target
//    (already normal the second time) and the same framing.
import FuzzReplay
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

let maxHead = 2048

struct Summary: Equatable {
    var error: HTTPParseError?
    var consumed = 0
    var bytes: [UInt8] = []
    var fields: [HTTPField] = []
    var framing = BodyFraming.none
    var keepAlive = false
    var expectContinue = false
    var isUpgrade = false
    var hostField: Int?
    var status = 0
    var target = 0..<0
}

func check(_ ok: Bool, _ what: String) {
    if !ok {
        print("invariant violated: \(what)")
        abort()
    }
}

func summary(_ head: HTTPHead, consumed: Int) -> Summary {
    Summary(error: nil, consumed: consumed, bytes: head.bytes, fields: head.fields, framing: head.framing,
            keepAlive: head.keepAlive, expectContinue: head.expectContinue, isUpgrade: head.isUpgrade,
            hostField: head.hostField, status: head.status, target: head.target)
}

/// Feeds `data` in pieces ending at `cuts` (ascending, last == data.count).
func parseHead(_ data: UnsafeRawBufferPointer, kind: HTTPHeadParser.Kind, cuts: [Int]) -> (Summary, HTTPHead?) {
    var parser = HTTPHeadParser(kind: kind, maxHeadBytes: maxHead)
    var offset = 0
    for cut in cuts where cut > offset {
        let piece = UnsafeRawBufferPointer(rebasing: data[offset..<cut])
        switch parser.parse(piece) {
        case .needMore(let consumed):
            check(consumed == piece.count, "needMore consumed all")
            offset = cut
        case .complete(let head, let consumed):
            check(consumed <= piece.count, "consumed <= input")
            return (summary(head, consumed: offset + consumed), head)
        case .failed(let e):
            return (Summary(error: e, consumed: -1), nil)
        }
    }
    return (Summary(error: nil, consumed: -2), nil)   // incomplete
}

func checkHead(_ head: HTTPHead, consumed: Int, input: UnsafeRawBufferPointer) {
    let b = head.bytes
    check(b.count <= maxHead && consumed >= b.count, "head size")
    check(Array(input[(consumed - b.count)..<consumed]) == b, "head bytes are the consumed tail")
    check(b.count >= 4 && Array(b[(b.count - 4)...]) == [13, 10, 13, 10], "head ends with CRLFCRLF")
    for f in head.fields {
        check(f.line.upperBound <= b.count && f.name.lowerBound >= f.line.lowerBound
              && f.value.upperBound <= f.line.upperBound - 2, "field ranges")
    }
    check(head.startLine.upperBound <= b.count, "start line range")
}

func runHead(_ data: UnsafeRawBufferPointer, kind: HTTPHeadParser.Kind, split: Int) {
    let n = data.count
    let (whole, head) = parseHead(data, kind: kind, cuts: [n])
    let (two, _) = parseHead(data, kind: kind, cuts: [split, n])
    check(whole == two, "whole == split at \(split)")
    if n <= 1024 && n > 0 {
        let (single, _) = parseHead(data, kind: kind, cuts: Array(1...n))
        check(whole == single, "whole == byte by byte")
    }
    guard let head else { return }
    checkHead(head, consumed: whole.consumed, input: data)
    // Rewrite and parse again.
    var out: [UInt8] = []
    switch kind {
    case .request:
        guard head.hostField != nil else { return }
        let framing: BodyFraming = head.framing
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(
            framing: framing, removeFieldNames: [Array("x-user".utf8)], clientAddress: Array("10.0.0.1".utf8),
            forwardedProto: Array("https".utf8), forwardsHost: true,
            requestID: Array("rid-1".utf8), extraFields: [(Array("X-User".utf8), Array("a\r\nb".utf8))]))
        var p = HTTPHeadParser(kind: .request, maxHeadBytes: 1 << 20)
        let step = out.withUnsafeBytes { p.parse($0) }
        guard case .complete(let again, let consumed) = step else {
            print(String(decoding: out, as: UTF8.self)); check(false, "rewritten request parses: \(step)"); return
        }
        check(consumed == out.count, "rewritten request consumed fully")
        check(Array(again.bytes[again.target]) == Array(head.forwardedTarget), "normalized target forwarded")
        check(again.normalized.rewritten == nil, "forwarded target is already normal")
        check(again.framing == framing, "framing re-emitted")
    case .response(let isHEAD):
        let framing: BodyFraming = head.framing == .untilClose ? .chunked : head.framing
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(
            framing: framing, keepAlive: head.keepAlive, removeFieldNames: [Array("gateway-update-claims".utf8)],
            extraFields: [(Array("X-Token".utf8), Array("t".utf8))], exposeHeader: Array("X-Token".utf8)))
        var p = HTTPHeadParser(kind: .response(requestMethodIsHEAD: isHEAD), maxHeadBytes: 1 << 20)
        let step = out.withUnsafeBytes { p.parse($0) }
        guard case .complete(let again, let consumed) = step else {
            print(String(decoding: out, as: UTF8.self)); check(false, "rewritten response parses: \(step)"); return
        }
        check(consumed == out.count, "rewritten response consumed fully")
        check(again.status == head.status, "status kept")
        if head.framing != .none { check(again.framing == framing, "response framing re-emitted") }
    }
}

struct ChunkSummary: Equatable {
    var payload: [UInt8] = []
    var end: Int?
    var error: HTTPParseError?
}

func decodeChunks(_ data: UnsafeRawBufferPointer, cuts: [Int]) -> ChunkSummary {
    var d = ChunkedDecoder(maxTrailerBytes: 256)
    var s = ChunkSummary()
    var offset = 0
    for cut in cuts where cut > offset {
        var piece = UnsafeRawBufferPointer(rebasing: data[offset..<cut])
        var base = offset
        while true {
            switch d.next(piece) {
            case .data(let o, let c, let consumed):
                check(c > 0 && consumed == o + c && consumed <= piece.count, "data step bounds")
                s.payload.append(contentsOf: piece[o..<(o + c)])
                piece = UnsafeRawBufferPointer(rebasing: piece[consumed...])
                base += consumed
                continue
            case .needMore(let consumed):
                check(consumed == piece.count, "needMore consumes all")
            case .end(let consumed):
                check(consumed <= piece.count, "end bounds")
                s.end = base + consumed
                return s
            case .failed(let e):
                s.error = e
                return s
            }
            break
        }
        offset = cut
    }
    return s
}

func runChunks(_ data: UnsafeRawBufferPointer, split: Int) {
    let n = data.count
    let whole = decodeChunks(data, cuts: [n])
    let two = decodeChunks(data, cuts: [split, n])
    check(whole == two, "chunked whole == split")
    if n <= 1024 && n > 0 {
        let single = decodeChunks(data, cuts: Array(1...n))
        check(whole == single, "chunked whole == byte by byte")
    }
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: data[1...])
    let split = Int(first) % (rest.count + 1)
    runHead(rest, kind: .request, split: split)
    runHead(rest, kind: .response(requestMethodIsHEAD: first & 1 == 1), split: split)
    runChunks(rest, split: split)
}

FuzzReplay.main { fuzzOne($0) }
