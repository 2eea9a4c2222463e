// Fuzz target for request-path normalization (PathNormalizer, TargetValidator,
// the parser's and the head writer's use of them; SPEC §4.1-4.2).
//
// The input is a request-target. Built normally it replays files (or
// directories) given as arguments; built with `-D FUZZING
// -sanitize=fuzzer` (scripts/fuzz.sh path) `main` hands control to libFuzzer.
//
// Invariants checked for every target the validator accepts (a violation
// aborts, which libFuzzer records as a crash):
//  - the normalized path equals a plain reference implementation of RFC 3986
//    §6.2.2 (decode unreserved escapes, upper-case other hex, merge `//`;
//    empty path -> `/`), and the query is the input's, byte for byte;
//  - a second pass changes nothing, and the validator accepts the output;
//  - the output has no `//`, no dot segment (fully decoded, also before a
//    `;`), no unreserved escape, no lower-case hex, only visible ASCII;
//  - fully decoding input and output (and merging `//`) gives the same bytes:
//    normalization never changes which resource is named;
//  - the routing key has no `;`, no `//`, starts with `/`, and equals a
//    reference (segments cut at `;`, empty segments merged);
//  - the parser accepts `GET <target> HTTP/1.1` exactly when the validator
//    does, stores the same normalization, and HeadWriter's upstream head
//    re-parses with the normalized target already normal.
// For a refused target, normalize must still terminate without trapping.
import FuzzReplay
import GatewayCore
#if canImport(Glibc)
import Glibc
#endif

func check(_ ok: Bool, _ what: String, _ input: [UInt8]) {
    if !ok {
        print("invariant violated: \(what) for \(String(decoding: input, as: UTF8.self).debugDescription)")
        abort()
    }
}

func hex(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}

func isUnreserved(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
}

let upperDigits = Array("0123456789ABCDEF".utf8)

/// Splits at the first `?`.
func splitQuery(_ t: [UInt8]) -> (path: [UInt8], query: [UInt8]) {
    guard let q = t.firstIndex(of: 0x3F) else { return (t, []) }
    return (Array(t[..<q]), Array(t[q...]))
}

func mergeSlashes(_ p: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for b in p where !(b == 0x2F && out.last == 0x2F) { out.append(b) }
    return out
}

/// RFC 3986 §6.2.2, written plainly (escapes assumed well formed).
func referenceNormalize(_ path: [UInt8]) -> [UInt8] {
    if path.isEmpty { return [0x2F] }
    var out: [UInt8] = []
    var i = 0
    while i < path.count {
        if path[i] == 0x25, i + 2 < path.count, let h = hex(path[i + 1]), let l = hex(path[i + 2]) {
            let v = h << 4 | l
            if isUnreserved(v) { out.append(v) } else { out += [0x25, upperDigits[Int(h)], upperDigits[Int(l)]] }
            i += 3
        } else {
            out.append(path[i]); i += 1
        }
    }
    return mergeSlashes(out)
}

func fullyDecode(_ path: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < path.count {
        if path[i] == 0x25, i + 2 < path.count, let h = hex(path[i + 1]), let l = hex(path[i + 2]) {
            out.append(h << 4 | l); i += 3
        } else {
            out.append(path[i]); i += 1
        }
    }
    return out
}

func referenceRoutingKey(_ path: [UInt8]) -> [UInt8] {
    var parts: [[UInt8]] = []
    for seg in path.split(separator: 0x2F, omittingEmptySubsequences: false) {
        parts.append(Array(seg.prefix { $0 != 0x3B }))
    }
    var joined: [UInt8] = []
    for (k, p) in parts.enumerated() {
        if k > 0 { joined.append(0x2F) }
        joined += p
    }
    return mergeSlashes(joined)
}

func hasDotSegment(_ path: [UInt8]) -> Bool {
    for seg in path.split(separator: 0x2F, omittingEmptySubsequences: false) {
        let cut = fullyDecode(Array(seg)).prefix { $0 != 0x3B }
        if cut.elementsEqual([0x2E]) || cut.elementsEqual([0x2E, 0x2E]) { return true }
    }
    return false
}

func escapesAreNormal(_ path: [UInt8]) -> Bool {
    var i = 0
    while i < path.count {
        if path[i] == 0x25 {
            guard i + 2 < path.count, let h = hex(path[i + 1]), let l = hex(path[i + 2]) else { return false }
            if isUnreserved(h << 4 | l) { return false }
            if path[i + 1] >= 0x61 || path[i + 2] >= 0x61 { return false }
            i += 3
        } else {
            i += 1
        }
    }
    return true
}

func containsDoubleSlash(_ b: [UInt8]) -> Bool {
    zip(b, b.dropFirst()).contains { $0 == 0x2F && $1 == 0x2F }
}

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let input = Array(data)
    let valid = TargetValidator.validate(data)
    guard valid, let split = TargetValidator.split(data) else {
        // Refused: the normalizer must still terminate on anything.
        if let s = input.firstIndex(of: 0x2F) {
            _ = PathNormalizer.normalize(data, from: s)
            _ = PathNormalizer.routingKey(Array(input[s...]))
        }
        checkParser(input, valid: false)
        return
    }
    let rest = Array(input[split.path...])
    let (inPath, inQuery) = splitQuery(rest)
    let n = PathNormalizer.normalize(data, from: split.path)
    let out = n.rewritten ?? rest
    let (outPath, outQuery) = splitQuery(out)
    check(n.pathCount == outPath.count, "pathCount", input)
    check(outQuery == inQuery, "query byte for byte", input)
    check(outPath == referenceNormalize(inPath), "matches the reference normalization", input)
    check(n.rewritten.map { $0 != rest } ?? true, "rewritten only when something changed", input)
    check(outPath.first == 0x2F, "path starts with /", input)
    check(out.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x23 }, "visible ASCII, no #", input)
    check(out.withUnsafeBytes { TargetValidator.validate($0) }, "validator accepts the output", input)
    check(out.withUnsafeBytes { PathNormalizer.normalize($0, from: 0).rewritten } == nil, "idempotent", input)
    check(!containsDoubleSlash(outPath), "no //", input)
    check(!hasDotSegment(outPath), "no dot segment", input)
    check(escapesAreNormal(outPath), "no unreserved escape, upper-case hex", input)
    check(mergeSlashes(fullyDecode(outPath)) == mergeSlashes(fullyDecode(inPath.isEmpty ? [0x2F] : inPath)),
          "same resource once decoded", input)
    let key = PathNormalizer.routingKey(outPath)
    check(!key.contains(0x3B) && !containsDoubleSlash(key) && key.first == 0x2F, "routing key shape", input)
    check(key == referenceRoutingKey(outPath), "routing key matches the reference", input)
    check(PathNormalizer.routingKey(key) == key, "routing key is stable", input)
    checkParser(input, valid: true, forwarded: out, key: key)
}

/// The parser and writer agree with the functions above.
func checkParser(_ target: [UInt8], valid: Bool, forwarded: [UInt8] = [], key: [UInt8] = []) {
    // Only targets a request line can carry; others are the parser's business.
    guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return }
    let request = Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
    var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 1 << 16)
    let step = request.withUnsafeBytes { parser.parse($0) }
    guard case .complete(let head, _) = step else {
        check(!valid, "parser refuses a target the validator accepts", target)
        return
    }
    check(valid, "parser accepts a target the validator refuses", target)
    check(Array(head.forwardedTarget) == forwarded, "parser stores the same normalization", target)
    check(head.withRoutingPath { Array($0) } == key, "parser's routing key", target)
    var out: [UInt8] = []
    HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none))
    var again = HTTPHeadParser(kind: .request, maxHeadBytes: 1 << 16)
    guard case .complete(let up, let consumed) = out.withUnsafeBytes({ again.parse($0) }) else {
        check(false, "upstream head parses", target); return
    }
    check(consumed == out.count, "upstream head consumed fully", target)
    check(Array(up.bytes[up.target]) == forwarded, "upstream target is the normalized one", target)
    check(up.normalized.rewritten == nil, "upstream target is already normal", target)
    check(up.withRoutingPath { Array($0) } == key, "upstream routes the same", target)
}

FuzzReplay.main { fuzzOne($0) }
