/// A parsed HTTP/1.x message head (request or response), kept as the raw bytes
/// received plus index ranges into them, so forwarding can copy the lines it
/// keeps byte for byte and nothing is re-encoded.
///
/// All ranges index `bytes`. `bytes` holds exactly the head as received: the
/// start line, the field lines and the final empty line (CRLF CRLF), without
/// any leading empty lines the parser skipped.
///
/// A class with fields constant to its readers, not a struct: a head passes through every
/// phase and into the access log, and as a struct each pass copied or
/// destroyed its three buffers and twenty-odd fields (about 250
/// instructions, nine times per request in the profile); now it is one
/// retain.
public final class HTTPHead: @unchecked Sendable {
    // @unchecked: a head changes only inside GatewayCore, and only while
    // nobody else references it: `HeadBufferPool.recycle` takes its buffers
    // and keeps the emptied object, which the parser then refills (`refill`)
    // for the next head, so a steady stream of requests allocates no head
    // objects either. To every other reader the fields are constant, so
    // they skip the dynamic exclusivity checks a class's `var`s get (which
    // cost ~4,000 instructions a request in callgrind when these became
    // `var`s): no access to them ever overlaps a write. Other modules read
    // them through the computed getters: the attribute does not cross a
    // module boundary, so a direct read of the stored property from
    // GatewayProxy paid swift_beginAccess (~76 instructions) each time.
    @exclusivity(unchecked) var _bytes: [UInt8]
    public var bytes: [UInt8] { _bytes }
    /// The start line without its CRLF.
    @exclusivity(unchecked) var _startLine: Range<Int>
    public var startLine: Range<Int> { _startLine }
    @exclusivity(unchecked) var _version: HTTPVersion
    public var version: HTTPVersion { _version }
    /// Field lines in order of arrival.
    @exclusivity(unchecked) var _fields: [HTTPField]
    public var fields: [HTTPField] { _fields }

    // Request heads only (empty ranges / 0 for responses).
    @exclusivity(unchecked) var _method: Range<Int>
    public var method: Range<Int> { _method }
    /// The target exactly as received (access to the query, the authority).
    /// What routing matches and what goes upstream is `normalized`.
    @exclusivity(unchecked) var _target: Range<Int>
    public var target: Range<Int> { _target }
    /// The target's path and query as routing and the upstream read them
    /// (`PathNormalizer`); computed once, when the head is parsed.
    @exclusivity(unchecked) var _normalized: NormalizedTarget
    public var normalized: NormalizedTarget { _normalized }
    // Response heads only.
    @exclusivity(unchecked) var _status: Int
    public var status: Int { _status }

    /// What the parser derived from the fields (validated per RFC 9112).
    @exclusivity(unchecked) var _framing: BodyFraming
    public var framing: BodyFraming { _framing }
    /// False when the peer asked to close: `Connection: close`, or HTTP/1.0
    /// without `Connection: keep-alive`.
    @exclusivity(unchecked) var _keepAlive: Bool
    public var keepAlive: Bool { _keepAlive }
    /// Request had `Expect: 100-continue` (any other expectation is a 417 in
    /// the parser's error set).
    @exclusivity(unchecked) var _expectContinue: Bool
    public var expectContinue: Bool { _expectContinue }
    /// `Connection: upgrade` together with `Upgrade: websocket` (request), or a
    /// 101 response.
    @exclusivity(unchecked) var _isUpgrade: Bool
    public var isUpgrade: Bool { _isUpgrade }
    /// Index into `fields` of the single Host field, if present.
    @exclusivity(unchecked) var _hostField: Int?
    public var hostField: Int? { _hostField }
    /// A Connection field lists a name besides close, keep-alive and
    /// upgrade (a field the sender made hop-by-hop). The parser knows; a head
    /// built by hand says true, so writers look for themselves.
    @exclusivity(unchecked) var _connectionNamesFields: Bool
    public var connectionNamesFields: Bool { _connectionNamesFields }

    public init(bytes: [UInt8], startLine: Range<Int>, version: HTTPVersion, fields: [HTTPField],
                method: Range<Int>, target: Range<Int>, status: Int, framing: BodyFraming,
                keepAlive: Bool, expectContinue: Bool, isUpgrade: Bool, hostField: Int?,
                normalized: NormalizedTarget? = nil, connectionNamesFields: Bool = true) {
        self._bytes = bytes; self._startLine = startLine; self._version = version; self._fields = fields
        self._method = method; self._target = target; self._status = status; self._framing = framing
        self._keepAlive = keepAlive; self._expectContinue = expectContinue; self._isUpgrade = isUpgrade
        self._hostField = hostField
        self._connectionNamesFields = connectionNamesFields
        // The parser passes its own; a head built by hand gets the same
        // reading, or (a target the validator refuses, a response) the raw
        // bytes as they are.
        self._normalized = normalized
            ?? bytes.withUnsafeBytes { NormalizedTarget.of($0, target: target) }
            ?? NormalizedTarget(raw: target, rewritten: nil, pathCount: target.count)
    }

    /// Makes a recycled head (from `HeadBufferPool.takeShell`, referenced
    /// by nobody else) the parser's next one: every field is set, none of
    /// the previous head's is left.
    /// The buffers are swapped in (the caller gets the emptied ones this
    /// head held back): moved, with no reference counting.
    func refill(bytes: inout [UInt8], startLine: Range<Int>, version: HTTPVersion, fields: inout [HTTPField],
                method: Range<Int>, target: Range<Int>, status: Int, framing: BodyFraming,
                keepAlive: Bool, expectContinue: Bool, isUpgrade: Bool, hostField: Int?,
                normalized: NormalizedTarget, connectionNamesFields: Bool) {
        swap(&_bytes, &bytes); self._startLine = startLine; self._version = version; swap(&_fields, &fields)
        self._method = method; self._target = target; self._status = status; self._framing = framing
        self._keepAlive = keepAlive; self._expectContinue = expectContinue; self._isUpgrade = isUpgrade
        self._hostField = hostField
        self._connectionNamesFields = connectionNamesFields
        self._normalized = normalized
    }

    /// The path and query sent upstream and shown in the access log: the
    /// normalized bytes (a slice of `bytes` when nothing was rewritten).
    public var forwardedTarget: ArraySlice<UInt8> {
        if let r = normalized.rewritten { return r[...] }
        return bytes[normalized.raw]
    }

    /// Calls `body` with the routing key: the normalized path with
    /// `;parameters` cut (`PathNormalizer.withRoutingKey`). No allocation
    /// unless a segment before the last has parameters (then stack storage).
    /// Inlinable, as `withRoutingKey` is: no generic call per request.
    @inlinable
    public func withRoutingPath<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let n = normalized
        if let r = n.rewritten {
            return r.withUnsafeBytes { PathNormalizer.withRoutingKey(UnsafeRawBufferPointer(rebasing: $0[0..<n.pathCount]), body) }
        }
        return bytes.withUnsafeBytes {
            let path = n.raw.lowerBound..<(n.raw.lowerBound + n.pathCount)
            return PathNormalizer.withRoutingKey(UnsafeRawBufferPointer(rebasing: $0[path]), body)
        }
    }
}

public enum HTTPVersion: Sendable, Equatable {
    case http10
    case http11
}

/// One field line: `name: value\r\n`.
public struct HTTPField: Sendable, Equatable {
    /// The whole line including its CRLF, for verbatim copying.
    public var line: Range<Int>
    public var name: Range<Int>
    /// The value with leading and trailing OWS removed.
    public var value: Range<Int>
    /// The field name recognised from a fixed table (case-insensitive), so hot
    /// paths compare an enum, not bytes.
    public var known: KnownField

    public init(line: Range<Int>, name: Range<Int>, value: Range<Int>, known: KnownField) {
        self.line = line; self.name = name; self.value = value; self.known = known
    }
}

/// Field names the gateway acts on. `.other` for everything else.
public enum KnownField: UInt8, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case expect
    case authorization
    case cookie
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case xRequestID
    case accessControlExposeHeaders
}

/// How the body that follows a head is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(UInt64)
    case chunked
    /// Responses only: the body runs until the upstream closes.
    case untilClose
}

/// Why a message was refused. Each case maps to one status code.
public enum HTTPParseError: Error, Sendable, Equatable {
    case headTooLarge                // 431 (request) / 502 (upstream response)
    case badStartLine                // 400
    case unsupportedVersion          // 505
    case badFieldName                // 400: not a token, or whitespace before colon
    case badFieldValue               // 400: NUL, CR, LF, other CTLs
    case obsFold                     // 400
    case bareLF                      // 400: LF without CR
    case conflictingFraming          // 400: both Content-Length and Transfer-Encoding
    case badContentLength            // 400: not digits, overflow, differing values
    case unsupportedTransferEncoding // 400: anything but a single final `chunked`
    case missingHost                 // 400: HTTP/1.1 request without Host
    case duplicateHost               // 400
    case duplicateAuthorization      // 400: more than one Authorization field (RFC 9110 §11.6.2)
    case unsupportedExpectation      // 417
    case badTarget                   // 400: not origin-form/absolute-form, dot segments, backslash
    case badChunk                    // 400: chunk size/ext/CRLF errors
    case trailerTooLarge             // 400

    public var status: Int {
        switch self {
        case .headTooLarge: return 431
        case .unsupportedVersion: return 505
        case .unsupportedExpectation: return 417
        default: return 400
        }
    }
}
