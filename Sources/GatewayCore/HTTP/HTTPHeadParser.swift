/// What one call to `HTTPHeadParser.parse` produced.
public enum HeadParseStep: Sendable {
    /// The head is not complete yet; all `consumed` bytes (always the whole
    /// input) were taken. Call again with more bytes.
    case needMore(consumed: Int)
    /// The head ended inside the input after `consumed` bytes; bytes after
    /// that (body, a pipelined request) were not touched.
    case complete(HTTPHead, consumed: Int)
    /// The message is refused; the connection cannot be reused.
    case failed(HTTPParseError)
}

/// Incremental, strict HTTP/1.1 head parser (RFC 9112 §2-§6, RFC 9110).
///
/// Feed bytes as they arrive, split anywhere. The parser copies head bytes
/// into its own buffer (capacity kept across `reset`), checks `maxHeadBytes`
/// before it grows, validates each line as soon as its LF arrives and derives
/// framing, keep-alive, upgrade and expectation once the empty line ends the
/// head. After `.complete` it is ready for the next head of the same kind;
/// after `.failed` it keeps answering the same failure until `reset`.
/// A value type with no shared state: one per connection, one thread.
public struct HTTPHeadParser: Sendable {
    public enum Kind: Sendable, Equatable {
        case request
        /// An upstream response; whether it answers a HEAD request decides
        /// that it has no body (RFC 9112 §6.3 rule 1).
        case response(requestMethodIsHEAD: Bool)
    }

    /// Empty lines tolerated before a request line (RFC 9112 §2.2 asks for
    /// at least one); more than this is not a client being robust.
    static let maxLeadingEmptyLines = 4

    public private(set) var kind: Kind
    public let maxHeadBytes: Int

    private var buffer: [UInt8] = []
    private var fields: [HTTPField] = []
    private var lineStart = 0
    private var startLineDone = false
    private var emptyLinesSkipped = 0
    private var failure: HTTPParseError?
    private var startLine = 0..<0
    private var method = 0..<0
    private var target = 0..<0
    private var normalizedTarget: NormalizedTarget?
    private var version = HTTPVersion.http11
    private var status = 0

    /// First reservation for a head; most request heads are well under it.
    static let initialCapacity = 2048
    /// Where a new head's buffers come from, when the owner has one.
    public var pool: HeadBufferPool?
    /// The pooled head this parse fills, taken with its buffers.
    private var shell: HTTPHead?

    public init(kind: Kind, maxHeadBytes: Int) {
        self.kind = kind
        self.maxHeadBytes = max(0, maxHeadBytes)
    }

    /// Prepares for a new head. The buffers are released, not kept: the last
    /// head took them over (`HTTPHead.bytes` shares their storage), so keeping
    /// capacity would copy them now, and an idle keep-alive connection should
    /// hold no parser memory (10,000 idle clients). They are reserved again
    /// on the next head's first byte, once, at a size most heads fit.
    public mutating func reset(kind: Kind) {
        self.kind = kind
        // Assigned only when set: after a finished head they are already
        // empty, and each assignment released the old (empty) value.
        if buffer.capacity != 0 { buffer = [] }
        if fields.capacity != 0 { fields = [] }
        if shell != nil { shell = nil }
        lineStart = 0
        startLineDone = false
        emptyLinesSkipped = 0
        failure = nil
        startLine = 0..<0; method = 0..<0; target = 0..<0
        if normalizedTarget != nil { normalizedTarget = nil }
        version = .http11
        status = 0
    }

    /// Consumes bytes of the head from `input`; see `HeadParseStep`.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> HeadParseStep {
        if let failure { return .failed(failure) }
        if buffer.capacity == 0, input.count > 0 {
            // A finished head's object and buffers, from the worker's pool:
            // parsed into, then refilled (`finish`).
            if let reused = pool?.takeShell() {
                swap(&buffer, &reused._bytes)
                swap(&fields, &reused._fields)
                shell = reused
            }
            if buffer.capacity == 0 { buffer.reserveCapacity(min(maxHeadBytes, Self.initialCapacity)) }
            if fields.capacity == 0 { fields.reserveCapacity(16) }
        }
        let n = input.count
        var i = 0
        // Where input[0] sits in `buffer`: negative once leading empty lines
        // were cut from the buffer's front.
        var origin = buffer.count
        while i < n {
            // One append per step, not one per line: as much input as the
            // buffer holds without growing (at least 1 KiB), bounded by the
            // limit, which is checked before the buffer grows (STYLE §5).
            // The lines are then checked in place, in order, so a bad line
            // fails before the limit does, as it would line by line; bytes
            // past the head (a body, a pipelined request) are cut off again.
            let room = maxHeadBytes - buffer.count
            guard room > 0 else { return fail(.headTooLarge) }
            let copy = min(n - i, room, max(buffer.capacity - buffer.count, 1024))
            var scan = buffer.count
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + copy)]))
            i += copy
            while true {
                let lf = buffer.withUnsafeBytes { HTTPSyntax.firstLF($0, from: scan) }
                guard lf < buffer.count else { break }
                scan = lf + 1
                switch lineEnded(end: scan) {
                case .more: continue
                case .skipped(let removed):
                    scan -= removed
                    origin -= removed
                case .failed(let e): return fail(e)
                case .done(let head):
                    reset(kind: kind)
                    return .complete(head, consumed: scan - origin)
                }
            }
        }
        return .needMore(consumed: n)
    }

    private mutating func fail(_ e: HTTPParseError) -> HeadParseStep {
        failure = e
        return .failed(e)
    }

    private enum LineOutcome {
        case more
        /// Leading empty lines were cut from the buffer's front: this many bytes.
        case skipped(Int)
        case done(HTTPHead)
        case failed(HTTPParseError)
    }

    /// A line ending with the LF at `end - 1` is complete in `buffer`
    /// (bytes after it, if any, belong to later lines).
    private mutating func lineEnded(end: Int) -> LineOutcome {
        let start = lineStart
        lineStart = end
        // RFC 9112 §2.2 lets a recipient accept a bare LF; a proxy must not,
        // since the upstream may split lines differently (request smuggling).
        guard end - start >= 2, buffer[end - 2] == HTTPSyntax.cr else { return .failed(.bareLF) }
        let content = start..<(end - 2)
        if !startLineDone {
            if content.isEmpty {
                guard kind == .request, emptyLinesSkipped < Self.maxLeadingEmptyLines else {
                    return .failed(.badStartLine)
                }
                emptyLinesSkipped += 1
                buffer.removeSubrange(0..<end)   // only empty lines precede it
                lineStart = 0
                return .skipped(end)
            }
            let error = kind == .request ? parseRequestLine(content) : parseStatusLine(content)
            if let error { return .failed(error) }
            startLineDone = true
            return .more
        }
        if content.isEmpty {
            // The head is exactly what came before: later bytes are the body's.
            if end < buffer.count { buffer.removeSubrange(end...) }
            return finish()
        }
        if let error = parseField(line: start..<end, content: content) { return .failed(error) }
        return .more
    }

    // MARK: start line

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
    private mutating func parseRequestLine(_ r: Range<Int>) -> HTTPParseError? {
        var p = r.lowerBound
        let e = r.upperBound
        while p < e && HTTPSyntax.isTchar(buffer[p]) { p += 1 }
        guard p > r.lowerBound, p < e, buffer[p] == HTTPSyntax.sp else { return .badStartLine }
        let m = r.lowerBound..<p
        p += 1
        let tStart = p
        while p < e && buffer[p] != HTTPSyntax.sp { p += 1 }
        guard p > tStart, p < e else { return .badStartLine }
        let t = tStart..<p
        p += 1
        switch parseVersion(p..<e) {
        case .failure(let err): return err
        case .success(let v): version = v
        }
        for k in t where buffer[k] < 0x21 || buffer[k] == 0x7F { return .badStartLine }
        // Validation and normalization in one step, on one split of the
        // target: routing and forwarding both read its result (SPEC §4.1).
        guard let n = buffer.withUnsafeBytes({ NormalizedTarget.of($0, target: t) }) else { return .badTarget }
        startLine = r; method = m; target = t
        normalizedTarget = n
        return nil
    }

    /// status-line = HTTP-version SP status-code SP [ reason-phrase ]
    /// (RFC 9112 §4). A missing SP before an empty reason is accepted from
    /// upstreams, the one leniency here.
    private mutating func parseStatusLine(_ r: Range<Int>) -> HTTPParseError? {
        let s = r.lowerBound
        guard r.count >= 12 else {
            if r.count >= 8, case .failure(.unsupportedVersion) = parseVersion(s..<(s + 8)) {
                return .unsupportedVersion
            }
            return .badStartLine
        }
        switch parseVersion(s..<(s + 8)) {
        case .failure(let err): return err
        case .success(let v): version = v
        }
        guard buffer[s + 8] == HTTPSyntax.sp else { return .badStartLine }
        var code = 0
        for k in (s + 9)..<(s + 12) {
            let b = buffer[k]
            guard b >= 0x30 && b <= 0x39 else { return .badStartLine }
            code = code * 10 + Int(b - 0x30)
        }
        guard code >= 100 && code <= 599 else { return .badStartLine }
        var p = s + 12
        if p < r.upperBound {
            guard buffer[p] == HTTPSyntax.sp else { return .badStartLine }
            p += 1
            while p < r.upperBound {
                guard HTTPSyntax.isFieldValueByte(buffer[p]) else { return .badStartLine }
                p += 1
            }
        }
        status = code
        startLine = r
        return nil
    }

    /// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
    private func parseVersion(_ r: Range<Int>) -> Result<HTTPVersion, HTTPParseError> {
        guard r.count == 8 else { return .failure(.badStartLine) }
        let p = r.lowerBound
        guard buffer[p] == 0x48, buffer[p + 1] == 0x54, buffer[p + 2] == 0x54, buffer[p + 3] == 0x50,
              buffer[p + 4] == 0x2F, buffer[p + 6] == 0x2E else { return .failure(.badStartLine) }
        let major = buffer[p + 5], minor = buffer[p + 7]
        guard major >= 0x30 && major <= 0x39, minor >= 0x30 && minor <= 0x39 else { return .failure(.badStartLine) }
        if major == 0x31 && minor == 0x31 { return .success(.http11) }
        if major == 0x31 && minor == 0x30 { return .success(.http10) }
        return .failure(.unsupportedVersion)
    }

    // MARK: field lines

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    private mutating func parseField(line: Range<Int>, content: Range<Int>) -> HTTPParseError? {
        // One pass over the line through a buffer pointer: `content` lies
        // inside `buffer` by construction (checked once here), and every
        // index below stays inside `content`.
        precondition(content.lowerBound >= 0 && content.upperBound <= buffer.count)
        let scanned: (name: Range<Int>, value: Range<Int>)? = buffer.withUnsafeBufferPointer { buf in
            let s = content.lowerBound
            let e = content.upperBound
            // A line starting with whitespace continues the previous one
            // (obs-fold, RFC 9112 §5.2): refused, as a proxy may not pass it on.
            if HTTPSyntax.isWS(buf[s]) { return nil }
            var p = s
            while p < e && HTTPSyntax.isTchar(buf[p]) { p += 1 }
            // No whitespace between name and colon (RFC 9112 §5.1): 400.
            guard p > s, p < e, buf[p] == HTTPSyntax.colon else { return (s..<s, 0..<0) }
            let name = s..<p
            p += 1
            while p < e && HTTPSyntax.isWS(buf[p]) { p += 1 }
            let vStart = p
            var vEnd = p
            let raw = UnsafeRawPointer(buf.baseAddress!)
            // Eight bytes at a time while they are visible ASCII or SP (most
            // values), noting only where the last word with a non-space
            // byte starts; where in it that byte is, is worked out once.
            // From the first word with HTAB, obs-text or a control byte on,
            // and for the tail, the byte rule below.
            let spaces: UInt64 = 0x2020_2020_2020_2020
            var lastWord = -1
            while p + 8 <= e {
                let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self))
                guard HTTPSyntax.allPrintableASCII(x) else { break }
                if x != spaces { lastWord = p }
                p += 8
            }
            if lastWord >= 0 {
                let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: lastWord, as: UInt64.self))
                vEnd = lastWord + (HTTPSyntax.lastNonSpace(x) ?? 7) + 1
            }
            while p < e {
                let b = buf[p]
                if b >= 0x21 && b != 0x7F {
                    vEnd = p + 1
                } else if b != HTTPSyntax.sp && b != HTTPSyntax.htab {
                    return (name, -1 ..< -1)
                }
                p += 1
            }
            return (name, vStart..<vEnd)
        }
        guard let scanned else { return .obsFold }
        if scanned.name.isEmpty { return .badFieldName }
        if scanned.value.lowerBound < 0 { return .badFieldValue }
        fields.append(HTTPField(line: line, name: scanned.name, value: scanned.value,
                                known: KnownField.lookup(buffer, scanned.name)))
        return nil
    }

    // MARK: semantics

    /// The empty line arrived: derive framing and connection handling.
    private mutating func finish() -> LineOutcome {
        var hostIndex: Int?
        var sawAuthorization = false
        var contentLength: UInt64?
        var hasTE = false
        var teCodings = 0
        var teLastIsChunked = false
        var connClose = false, connKeepAlive = false, connUpgrade = false, connNamesFields = false
        var upgradeWebsocket = false
        var expectContinue = false
        let isRequest = kind == .request
        let b = buffer

        for index in fields.indices {
            let f = fields[index]
            switch f.known {
            case .host where isRequest:
                guard hostIndex == nil else { return .failed(.duplicateHost) }
                // RFC 9112 §3.2: a Host that is not a valid uri-host[:port] is
                // a 400; HostSyntax is stricter still (no sub-delims, no `,`).
                guard HostSyntax.isValid(b, f.value) else { return .failed(.badFieldValue) }
                hostIndex = index
            case .authorization where isRequest:
                // A singleton (RFC 9110 §11.6.2): with two, the gateway could
                // verify one and the upstream read the other.
                guard !sawAuthorization else { return .failed(.duplicateAuthorization) }
                sawAuthorization = true
            case .contentLength:
                // RFC 9110 §8.6: identical repeated values may be accepted as
                // one; anything else is an unrecoverable framing error.
                guard let v = Self.parseContentLength(b, f.value),
                      contentLength == nil || contentLength == v else { return .failed(.badContentLength) }
                contentLength = v
            case .transferEncoding:
                hasTE = true
                HTTPSyntax.forEachListElement(b, f.value) { el in
                    teCodings += 1
                    teLastIsChunked = HTTPSyntax.equalsLower(b, el, "chunked")
                    return true
                }
            case .connection:
                HTTPSyntax.forEachListElement(b, f.value) { el in
                    if HTTPSyntax.equalsLower(b, el, "close") { connClose = true }
                    else if HTTPSyntax.equalsLower(b, el, "keep-alive") { connKeepAlive = true }
                    else if HTTPSyntax.equalsLower(b, el, "upgrade") { connUpgrade = true }
                    else { connNamesFields = true }
                    return true
                }
            case .upgrade:
                HTTPSyntax.forEachListElement(b, f.value) { el in
                    var end = el.lowerBound
                    while end < el.upperBound && b[end] != 0x2F { end += 1 }   // protocol-name "/" version
                    if HTTPSyntax.equalsLower(b, el.lowerBound..<end, "websocket") { upgradeWebsocket = true }
                    return true
                }
            case .expect where isRequest:
                // RFC 9110 §10.1.1: the only expectation defined is 100-continue.
                let ok = HTTPSyntax.forEachListElement(b, f.value) { el in
                    HTTPSyntax.equalsLower(b, el, "100-continue")
                }
                guard ok else { return .failed(.unsupportedExpectation) }
                if !f.value.isEmpty { expectContinue = true }
            default:
                break
            }
        }

        // RFC 9112 §6.1: a message with both is a smuggling attempt or a broken
        // intermediary; a proxy must not forward it either way.
        if hasTE && contentLength != nil { return .failed(.conflictingFraming) }

        let framing: BodyFraming
        var keepAlive: Bool
        let isUpgrade: Bool
        switch kind {
        case .request:
            if version == .http11 && hostIndex == nil { return .failed(.missingHost) }
            if hasTE {
                // RFC 9112 §6.1: chunked must be final; we accept no other
                // coding at all, and none from HTTP/1.0 (which has no TE).
                guard version == .http11, teCodings == 1, teLastIsChunked else {
                    return .failed(.unsupportedTransferEncoding)
                }
                framing = .chunked
            } else if let contentLength {
                framing = .contentLength(contentLength)
            } else {
                framing = .none
            }
            keepAlive = version == .http11 ? !connClose : (connKeepAlive && !connClose)
            isUpgrade = connUpgrade && upgradeWebsocket
            // RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
            if version == .http10 { expectContinue = false }
        case .response(let requestMethodIsHEAD):
            // RFC 9112 §6.3, in order.
            if requestMethodIsHEAD || (100...199).contains(status) || status == 204 || status == 304 {
                framing = .none
            } else if hasTE {
                // A 1.0 message with TE has faulty framing (§6.1): read to close.
                framing = (teLastIsChunked && version == .http11) ? .chunked : .untilClose
            } else if let contentLength {
                framing = .contentLength(contentLength)
            } else {
                framing = .untilClose
            }
            keepAlive = version == .http11 ? !connClose : (connKeepAlive && !connClose)
            if framing == .untilClose { keepAlive = false }
            isUpgrade = status == 101
            expectContinue = false
        }

        // The head takes the buffers over (moved, not copied); the pool, if
        // any, gets them back when the head is done with.
        let normalized = normalizedTarget ?? NormalizedTarget(raw: target, rewritten: nil, pathCount: 0)
        // A head object a finished exchange gave back, refilled: no allocation.
        if let shell {
            self.shell = nil
            shell.refill(bytes: &buffer, startLine: startLine, version: version, fields: &fields,
                         method: method, target: target, status: status, framing: framing,
                         keepAlive: keepAlive, expectContinue: expectContinue, isUpgrade: isUpgrade,
                         hostField: hostIndex, normalized: normalized, connectionNamesFields: connNamesFields)
            return .done(shell)
        }
        var headBytes: [UInt8] = []
        swap(&headBytes, &buffer)
        var headFields: [HTTPField] = []
        swap(&headFields, &fields)
        let head = HTTPHead(bytes: headBytes, startLine: startLine, version: version, fields: headFields,
                            method: method, target: target, status: status, framing: framing,
                            keepAlive: keepAlive, expectContinue: expectContinue, isUpgrade: isUpgrade,
                            hostField: hostIndex, normalized: normalized, connectionNamesFields: connNamesFields)
        return .done(head)
    }

    /// Content-Length = 1*DIGIT, possibly as a list of identical values.
    /// Nil on a sign, an empty element, differing values or overflow.
    static func parseContentLength(_ b: [UInt8], _ r: Range<Int>) -> UInt64? {
        var result: UInt64?
        var p = r.lowerBound
        let end = r.upperBound
        while true {
            while p < end && HTTPSyntax.isWS(b[p]) { p += 1 }
            var v: UInt64 = 0
            let digitsStart = p
            while p < end, b[p] >= 0x30 && b[p] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(b[p] - 0x30))
                if o1 || o2 { return nil }
                v = a
                p += 1
            }
            guard p > digitsStart else { return nil }
            if let result, result != v { return nil }
            result = v
            while p < end && HTTPSyntax.isWS(b[p]) { p += 1 }
            if p == end { return result }
            guard b[p] == HTTPSyntax.comma else { return nil }
            p += 1
        }
    }
}

extension HTTPHead {
    /// The path and query of the target as received: the whole target for
    /// origin-form, the part after the authority for absolute-form (may be
    /// empty). Routing and forwarding read `normalized` instead.
    public var targetPathAndQuery: Range<Int> {
        guard let split = bytes.withUnsafeBytes({ TargetValidator.split(UnsafeRawBufferPointer(rebasing: $0[target])) })
        else { return target }
        return (target.lowerBound + split.path)..<target.upperBound
    }

    /// The host[:port] of an absolute-form target (RFC 9112 §3.2.2: it
    /// replaces Host), nil for origin-form.
    public var targetAuthority: Range<Int>? {
        // Origin-form, nearly every request: no authority, and no second
        // pass over a target the parser already split.
        if !target.isEmpty, _bytes[target.lowerBound] == 0x2F { return nil }
        guard let split = bytes.withUnsafeBytes({ TargetValidator.split(UnsafeRawBufferPointer(rebasing: $0[target])) }),
              let a = split.authority else { return nil }
        return (target.lowerBound + a.lowerBound)..<(target.lowerBound + a.upperBound)
    }

    /// Index of the first field named `lowercasedName` (ASCII
    /// case-insensitive), for names that are not in `KnownField`.
    public func firstIndex(ofFieldNamed lowercasedName: [UInt8]) -> Int? {
        fields.firstIndex { HTTPSyntax.equalsLower(bytes, $0.name, lowercasedName) }
    }

    /// The value bytes of field `index`.
    public func value(of index: Int) -> ArraySlice<UInt8> { bytes[fields[index].value] }

    /// The first field with this known name, if any.
    public func firstIndex(of known: KnownField) -> Int? { fields.firstIndex { $0.known == known } }

    /// The value of the first field with this known name, if any (read in
    /// place: no copy of the field array, as a caller in another module
    /// reading `fields` makes).
    public func firstValue(of known: KnownField) -> Range<Int>? {
        for f in _fields where f.known == known { return f.value }
        return nil
    }
}
