import Testing
@testable import GatewayCore

/// What a head parse produced, comparable across ways of feeding the bytes.
struct HeadOutcome: Equatable, CustomStringConvertible {
    var error: HTTPParseError?
    /// Offset in the whole input where the head ended; nil when incomplete.
    var end: Int?
    var bytes: [UInt8] = []
    var fields: [HTTPField] = []
    var framing = BodyFraming.none
    var version = HTTPVersion.http11
    var keepAlive = false
    var expectContinue = false
    var isUpgrade = false
    var hostField: Int?
    var status = 0
    var method: [UInt8] = []
    var target: [UInt8] = []

    var description: String {
        if let error { return "failed(\(error))" }
        guard let end else { return "incomplete" }
        return "complete(end: \(end), framing: \(framing), keepAlive: \(keepAlive))"
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Feeds `input` to a fresh parser in pieces ending at `cuts` (ascending).
/// Returns the outcome and the parsed head.
func feedHead(_ input: [UInt8], kind: HTTPHeadParser.Kind, max: Int, cuts: [Int]) -> (HeadOutcome, HTTPHead?) {
    var parser = HTTPHeadParser(kind: kind, maxHeadBytes: max)
    var offset = 0
    for cut in cuts + [input.count] where cut > offset {
        let step = input[offset..<cut].withUnsafeBytes { parser.parse($0) }
        switch step {
        case .needMore(let consumed):
            #expect(consumed == cut - offset)
            offset = cut
        case .complete(let head, let consumed):
            #expect(consumed <= cut - offset)
            var o = HeadOutcome(end: offset + consumed)
            o.bytes = head.bytes; o.fields = head.fields; o.framing = head.framing; o.version = head.version
            o.keepAlive = head.keepAlive; o.expectContinue = head.expectContinue; o.isUpgrade = head.isUpgrade
            o.hostField = head.hostField; o.status = head.status
            o.method = Array(head.bytes[head.method]); o.target = Array(head.bytes[head.target])
            return (o, head)
        case .failed(let e):
            return (HeadOutcome(error: e), nil)
        }
    }
    return (HeadOutcome(), nil)
}

/// Parses `input` whole, split in two at every offset, and byte by byte;
/// records an issue when any way differs from the whole parse. Returns it.
@discardableResult
func parseAllWays(_ input: [UInt8], kind: HTTPHeadParser.Kind = .request, max: Int = 8192,
                  sourceLocation: SourceLocation = #_sourceLocation) -> (HeadOutcome, HTTPHead?) {
    let (whole, head) = feedHead(input, kind: kind, max: max, cuts: [])
    for split in 0...input.count {
        let (o, _) = feedHead(input, kind: kind, max: max, cuts: [split])
        if o != whole {
            Issue.record("split at \(split): \(o) != \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    let (single, _) = feedHead(input, kind: kind, max: max, cuts: Array(0...input.count))
    #expect(single == whole, "byte by byte", sourceLocation: sourceLocation)
    return (whole, head)
}

/// The error a message fails with, fed every way; nil when it parses.
func parseError(_ input: String, kind: HTTPHeadParser.Kind = .request, max: Int = 8192,
                sourceLocation: SourceLocation = #_sourceLocation) -> HTTPParseError? {
    parseAllWays(bytes(input), kind: kind, max: max, sourceLocation: sourceLocation).0.error
}

/// A head that must parse, fed every way.
func parseHead(_ input: String, kind: HTTPHeadParser.Kind = .request, max: Int = 8192,
               sourceLocation: SourceLocation = #_sourceLocation) -> HTTPHead? {
    let (o, head) = parseAllWays(bytes(input), kind: kind, max: max, sourceLocation: sourceLocation)
    #expect(o.error == nil, "\(o)", sourceLocation: sourceLocation)
    return head
}

extension HTTPHead {
    func string(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
    func fieldValue(_ known: KnownField) -> String? {
        fields.first { $0.known == known }.map { string($0.value) }
    }
}
