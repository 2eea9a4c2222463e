/// How the gateway rewrites a request head before it goes upstream.
///
/// Noncopyable: it holds a few arrays, and each copy the compiler made on
/// the way into the writer (a closure context, say) retained and released
/// every one of them, twice a request. Writers borrow it.
public struct UpstreamRequestOptions: ~Copyable, Sendable {
    /// Framing the writer emits (`Content-Length: n`, `Transfer-Encoding:
    /// chunked`, or nothing for `.none`); the client's own framing fields are dropped.
    public var framing: BodyFraming
    /// Tunnel a WebSocket upgrade: send `Connection: upgrade` + `Upgrade: websocket`
    /// instead of `Connection: keep-alive`.
    public var tunnelUpgrade: Bool
    /// Lowercased field names to drop (forward_claims headers, fields the gateway sets itself).
    public var removeFieldNames: [[UInt8]]
    /// Appended last to X-Forwarded-For; nothing added when empty.
    public var clientAddress: [UInt8]
    /// The X-Forwarded-Proto value (`http` / `https`); a client's copies are
    /// always dropped, and nothing is sent when this is empty.
    public var forwardedProto: [UInt8]
    /// Send X-Forwarded-Host with the head's own Host value (the host the
    /// client asked for); a client's copies are always dropped. Read from
    /// the head, not held here, so these options keep no head's bytes.
    public var forwardsHost: Bool
    /// Sent as X-Request-Id when the request has none; nothing added when empty.
    public var requestID: [UInt8]
    /// Otherwise, when the request has none: this number as 16 hex digits
    /// (the gateway's own ids, written without an array of their own).
    public var generatedRequestID: UInt64?
    /// Fields appended after the kept ones (e.g. forward_claims values).
    /// CR, LF and other controls in values become spaces; names keep token bytes only.
    public var extraFields: [(name: [UInt8], value: [UInt8])]

    public init(framing: BodyFraming, tunnelUpgrade: Bool = false, removeFieldNames: [[UInt8]] = [],
                clientAddress: [UInt8] = [], forwardedProto: [UInt8] = [], forwardsHost: Bool = false,
                requestID: [UInt8] = [], generatedRequestID: UInt64? = nil,
                extraFields: [(name: [UInt8], value: [UInt8])] = []) {
        self.framing = framing; self.tunnelUpgrade = tunnelUpgrade; self.removeFieldNames = removeFieldNames
        self.clientAddress = clientAddress; self.forwardedProto = forwardedProto
        self.forwardsHost = forwardsHost; self.requestID = requestID
        self.generatedRequestID = generatedRequestID; self.extraFields = extraFields
    }
}

/// How the gateway rewrites an upstream response head for the client.
/// Noncopyable, like `UpstreamRequestOptions`; `copy()` where a phase must
/// keep one while it waits.
public struct ClientResponseOptions: ~Copyable, Sendable {
    /// Framing towards the client: `.contentLength(n)`, `.chunked`, or
    /// `.none` (no body, or a close-delimited one). For a response without a
    /// body (`head.framing == .none`, e.g. to HEAD, or a 304) and `.none`
    /// here, the upstream's Content-Length is kept as metadata.
    public var framing: BodyFraming
    /// False: `Connection: close` is sent.
    public var keepAlive: Bool
    /// Status line `HTTP/1.0` (and `Connection: keep-alive` when keeping it).
    public var clientIsHTTP10: Bool
    /// A 101 being tunnelled: Upgrade fields kept, `Connection: upgrade` sent.
    public var tunnelUpgrade: Bool
    /// Lowercased field names to drop (e.g. `gateway-update-claims`).
    public var removeFieldNames: [[UInt8]]
    /// Fields appended after the kept ones (e.g. the refreshed token).
    public var extraFields: [(name: [UInt8], value: [UInt8])]
    /// A field name to add to Access-Control-Expose-Headers, after the upstream's own list.
    public var exposeHeader: [UInt8]?
    /// The response carries a token the gateway minted: the upstream's
    /// Cache-Control and Expires give way to `Cache-Control: no-store`, and
    /// Vary gains `Authorization` (SPEC §4.5, RFC 6749 §5.1), so no shared
    /// cache hands one user's token to another.
    public var carriesMintedToken: Bool

    public init(framing: BodyFraming, keepAlive: Bool, clientIsHTTP10: Bool = false, tunnelUpgrade: Bool = false,
                removeFieldNames: [[UInt8]] = [], extraFields: [(name: [UInt8], value: [UInt8])] = [],
                exposeHeader: [UInt8]? = nil, carriesMintedToken: Bool = false) {
        self.framing = framing; self.keepAlive = keepAlive; self.clientIsHTTP10 = clientIsHTTP10
        self.tunnelUpgrade = tunnelUpgrade; self.removeFieldNames = removeFieldNames
        self.extraFields = extraFields; self.exposeHeader = exposeHeader
        self.carriesMintedToken = carriesMintedToken
    }

    /// An explicit copy (the type is noncopyable so that no copy is implicit).
    public func copy() -> ClientResponseOptions {
        ClientResponseOptions(framing: framing, keepAlive: keepAlive, clientIsHTTP10: clientIsHTTP10,
                              tunnelUpgrade: tunnelUpgrade, removeFieldNames: removeFieldNames,
                              extraFields: extraFields, exposeHeader: exposeHeader,
                              carriesMintedToken: carriesMintedToken)
    }
}

/// Builds outgoing heads into a caller-owned buffer (the caller empties it
/// with `removeAll(keepingCapacity: true)`; the writer only appends). Kept
/// lines are copied byte for byte from the parsed head.
public enum HeadWriter {
    typealias S = HTTPSyntax

    // MARK: request towards the upstream

    /// Start line: the method verbatim, the normalized origin-form target
    /// (`HTTPHead.forwardedTarget`, the bytes routing read; RFC 9112 §3.2.2:
    /// a proxy sends origin-form to the origin), HTTP/1.1; fields verbatim except hop-by-hop
    /// ones (RFC 9110 §7.6.1), framing fields (re-emitted from
    /// `options.framing`), Expect (the gateway answers 100-continue itself) and
    /// `options.removeFieldNames`; X-Forwarded-For merged into one line with
    /// the client address last; X-Forwarded-Proto and -Host replaced by the
    /// gateway's own values; X-Request-Id added when absent;
    /// then `options.extraFields`, then the Connection field, then CRLF.
    public static func writeUpstreamRequest(_ head: HTTPHead, into out: inout [UInt8],
                                            options: borrowing UpstreamRequestOptions) {
        HeadCursor.append(to: &out, bound: upstreamRequestBound(head, options)) {
            writeUpstreamRequest(head, into: &$0, options: options)
        }
    }

    /// Room that fits the upstream head in all but pathological cases (the
    /// cursor refuses the rest and the caller retries with more).
    public static func upstreamRequestBound(_ head: HTTPHead, _ options: borrowing UpstreamRequestOptions) -> Int {
        var n = head.bytes.count + 256 + options.clientAddress.count + options.forwardedProto.count
            + options.requestID.count
        if options.forwardsHost, let h = head.hostField { n += head.fields[h].value.count }
        for (name, value) in options.extraFields { n += name.count + value.count + 4 }
        return n
    }

    /// As above, into `out` (see `HeadCursor`); check `out.overflowed`.
    public static func writeUpstreamRequest(_ head: HTTPHead, into out: inout HeadCursor,
                                            options: borrowing UpstreamRequestOptions) {
        let b = head.bytes
        out.append(b[head.method])
        out.append(S.sp)
        out.append(head.forwardedTarget)
        out.append(" HTTP/1.1\r\n")
        var hasRequestID = false
        let connectionNames = ConnectionNames(head)
        var kept = KeptLines()
        for f in head.fields {
            switch f.known {
            case .connection, .keepAlive, .proxyConnection, .te, .trailer, .upgrade,
                 .transferEncoding, .contentLength, .expect,
                 .xForwardedFor, .xForwardedProto, .xForwardedHost:
                continue
            case .other:
                if connectionNames.contains(f.name) { continue }
            default:
                break
            }
            if isRemoved(b, f.name, options.removeFieldNames) { continue }
            if f.known == .xRequestID { hasRequestID = true }
            kept.add(f.line, from: b, to: &out)
        }
        kept.flush(from: b, to: &out)
        writeMerged(head, .xForwardedFor, "X-Forwarded-For: ", own: options.clientAddress,
                    removed: options.removeFieldNames, into: &out)
        // Replaced, not appended (SPEC §4.4): frameworks (Express, Rails)
        // read the first value and build links, password-reset ones too,
        // from it; a client's copy must never be that first value.
        writeOwn("X-Forwarded-Proto: ", options.forwardedProto, into: &out)
        if options.forwardsHost, let h = head.hostField {
            writeOwn("X-Forwarded-Host: ", b[head.fields[h].value], into: &out)
        }
        if !hasRequestID && !options.requestID.isEmpty {
            out.append("X-Request-Id: ")
            appendSanitizedValue(options.requestID, to: &out)
            out.append("\r\n")
        } else if !hasRequestID, let id = options.generatedRequestID {
            out.append("X-Request-Id: ")
            RequestIDText.appendHex(id, to: &out)
            out.append("\r\n")
        }
        writeFraming(options.framing, into: &out)
        writeExtra(options.extraFields, into: &out)
        if options.tunnelUpgrade {
            out.append("Connection: upgrade\r\nUpgrade: websocket\r\n")
        } else {
            out.append("Connection: keep-alive\r\n")
        }
        out.append("\r\n")
    }

    // MARK: response towards the client

    /// `HTTP/1.1 <status> <reason verbatim>` (HTTP/1.0 to a 1.0 client);
    /// fields verbatim except hop-by-hop ones (including those the response's
    /// Connection names), framing fields (re-emitted from `options.framing`)
    /// and `options.removeFieldNames`; then `options.extraFields`, the merged
    /// Access-Control-Expose-Headers when `exposeHeader` is set, the Connection
    /// field, CRLF.
    public static func writeClientResponse(_ head: HTTPHead, into out: inout [UInt8],
                                           options: borrowing ClientResponseOptions) {
        HeadCursor.append(to: &out, bound: clientResponseBound(head, options)) {
            writeClientResponse(head, into: &$0, options: options)
        }
    }

    /// Room that fits the client's head in all but pathological cases.
    public static func clientResponseBound(_ head: HTTPHead, _ options: borrowing ClientResponseOptions) -> Int {
        var n = head.bytes.count + 256 + (options.exposeHeader?.count ?? 0)
        if options.carriesMintedToken { n += 64 }
        for (name, value) in options.extraFields { n += name.count + value.count + 4 }
        return n
    }

    /// As above, into `out` (see `HeadCursor`); check `out.overflowed`.
    public static func writeClientResponse(_ head: HTTPHead, into out: inout HeadCursor,
                                           options: borrowing ClientResponseOptions) {
        let b = head.bytes
        if options.clientIsHTTP10 { out.append("HTTP/1.0 ") } else { out.append("HTTP/1.1 ") }
        let s = head.startLine.lowerBound
        if head.startLine.count > 12 {
            out.append(b[(s + 9)..<head.startLine.upperBound])   // "200 OK" verbatim
        } else {
            out.append(b[(s + 9)..<(s + 12)])                    // lenient: no SP, no reason
            out.append(S.sp)
        }
        out.append("\r\n")
        let keepLength = options.framing == .none && head.framing == .none
            && !(100...199).contains(head.status) && head.status != 204
        let connectionNames = ConnectionNames(head)
        var kept = KeptLines()
        for f in head.fields {
            switch f.known {
            case .connection, .keepAlive, .proxyConnection, .te, .trailer, .transferEncoding:
                continue
            case .upgrade:
                if !options.tunnelUpgrade { continue }
            case .contentLength:
                if !keepLength { continue }
            case .accessControlExposeHeaders:
                if options.exposeHeader != nil { continue }
            case .other:
                if connectionNames.contains(f.name) { continue }
                if options.carriesMintedToken, isCachingField(b, f.name) { continue }
            default:
                break
            }
            if isRemoved(b, f.name, options.removeFieldNames) { continue }
            kept.add(f.line, from: b, to: &out)
        }
        kept.flush(from: b, to: &out)
        writeFraming(options.framing, into: &out)
        writeExtra(options.extraFields, into: &out)
        if options.carriesMintedToken { writeNoStore(head, into: &out) }
        if let expose = options.exposeHeader {
            writeMerged(head, .accessControlExposeHeaders, "Access-Control-Expose-Headers: ", own: expose,
                        removed: options.removeFieldNames, into: &out)
        }
        if options.tunnelUpgrade {
            out.append("Connection: upgrade\r\n")
        } else if !options.keepAlive {
            out.append("Connection: close\r\n")
        } else if options.clientIsHTTP10 {
            out.append("Connection: keep-alive\r\n")
        }
        out.append("\r\n")
    }

    // MARK: the gateway's own answers

    /// A complete response (head and body) for answers the gateway makes
    /// itself: Content-Length always, `Connection: close` when !keepAlive.
    public static func writeSimpleResponse(status: Int, reason: String, headers: [(String, String)],
                                           body: [UInt8], keepAlive: Bool, into out: inout [UInt8]) {
        var bound = 128 + reason.utf8.count + body.count
        for (name, value) in headers { bound += name.utf8.count + value.utf8.count + 4 }
        HeadCursor.append(to: &out, bound: bound) {
            writeSimpleResponse(status: status, reason: reason, headers: headers, body: body, keepAlive: keepAlive,
                                into: &$0)
        }
    }

    static func writeSimpleResponse(status: Int, reason: String, headers: [(String, String)],
                                    body: [UInt8], keepAlive: Bool, into out: inout HeadCursor) {
        out.append("HTTP/1.1 ")
        out.appendDecimal(UInt64(min(max(status, 100), 999)))
        out.append(S.sp)
        appendSanitizedValue(Array(reason.utf8), to: &out)
        out.append("\r\n")
        for (name, value) in headers {
            appendSanitizedName(Array(name.utf8), to: &out)
            out.append(": ")
            appendSanitizedValue(Array(value.utf8), to: &out)
            out.append("\r\n")
        }
        // A 204 has no body and must not say Content-Length (RFC 9110 §8.6).
        if status != 204 {
            out.append("Content-Length: ")
            out.appendDecimal(UInt64(body.count))
            out.append("\r\n")
        }
        if !keepAlive { out.append("Connection: close\r\n") }
        out.append("\r\n")
        if status != 204 { out.append(body) }
    }

    /// `HTTP/1.1 100 Continue` with no fields (RFC 9110 §15.2.1).
    public static func write100Continue(into out: inout [UInt8]) {
        out.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
    }

    /// The reason phrase for the statuses the gateway sends ("" for others).
    public static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 417: return "Expectation Failed"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return ""
        }
    }

    // MARK: helpers

    /// Field lines kept verbatim, copied in runs: lines that follow each
    /// other in the received head go out in one append, not one each.
    struct KeptLines {
        private var run = 0..<0

        mutating func add(_ line: Range<Int>, from b: [UInt8], to out: inout HeadCursor) {
            if !run.isEmpty, line.lowerBound == run.upperBound {
                run = run.lowerBound..<line.upperBound
                return
            }
            flush(from: b, to: &out)
            run = line
        }

        mutating func flush(from b: [UInt8], to out: inout HeadCursor) {
            if !run.isEmpty { out.append(b[run]) }
            run = 0..<0
        }
    }

    /// The field names listed in the Connection fields of a head (RFC 9110
    /// §7.6.1: those fields are hop-by-hop). Built once per write so a head
    /// with thousands of fields and tokens still costs linear time; nothing
    /// is allocated unless Connection names something besides
    /// close/keep-alive/upgrade. Only `.other` fields are looked up: Host,
    /// Authorization and Cookie are never dropped this way, so a client cannot
    /// strip end-to-end credentials by naming them in Connection.
    struct ConnectionNames {
        private var table: [Int: Range<Int>] = [:]   // seeded SipHash of the lowercased name -> first token
        private var bytes: [UInt8] = []

        init(_ head: HTTPHead) {
            // The parser saw whether any Connection field names another
            // field; most heads say only keep-alive or close, or nothing.
            guard head.connectionNamesFields else { return }
            bytes = head.bytes
            let b = head.bytes
            var table: [Int: Range<Int>] = [:]
            for f in head.fields where f.known == .connection {
                S.forEachListElement(b, f.value) { el in
                    if S.equalsLower(b, el, "close") || S.equalsLower(b, el, "keep-alive")
                        || S.equalsLower(b, el, "upgrade") { return true }
                    let h = Self.hash(b, el)
                    if table[h] == nil { table[h] = el }
                    return true
                }
            }
            self.table = table
        }

        func contains(_ name: Range<Int>) -> Bool {
            guard !table.isEmpty, let token = table[Self.hash(bytes, name)], token.count == name.count else {
                return false
            }
            var p = token.lowerBound, q = name.lowerBound
            while p < token.upperBound {
                if S.lower(bytes[p]) != S.lower(bytes[q]) { return false }
                p += 1; q += 1
            }
            return true
        }

        static func hash(_ b: [UInt8], _ r: Range<Int>) -> Int {
            var h = Hasher()
            for i in r { h.combine(S.lower(b[i])) }
            return h.finalize()
        }
    }

    /// True when `b[name]` is one of `names` (lowercase), counting `_` and
    /// `-` as the same byte: CGI-style upstreams map both to `_`, so a client
    /// sending `X-User_Id` must not slip past the removal of `x-user-id`.
    static func isRemoved(_ b: [UInt8], _ name: Range<Int>, _ names: [[UInt8]]) -> Bool {
        for n in names where n.count == name.count {
            var p = name.lowerBound
            var same = true
            for o in n {
                let c = S.lower(b[p])
                if c != o && !((c == 0x5F || c == 0x2D) && (o == 0x5F || o == 0x2D)) { same = false; break }
                p += 1
            }
            if same { return true }
        }
        return false
    }

    /// One line `prefix <existing values joined by ", ">, <own>`; nothing when
    /// both are empty. Existing values are skipped when the name is in `removed`.
    static func writeMerged(_ head: HTTPHead, _ known: KnownField, _ prefix: StaticString, own: [UInt8],
                            removed: [[UInt8]], into out: inout HeadCursor) {
        let b = head.bytes
        let mark = out.count
        out.append(prefix)
        let valueStart = out.count
        for f in head.fields where f.known == known && !f.value.isEmpty {
            if isRemoved(b, f.name, removed) { continue }
            if out.count > valueStart { out.append(", ") }
            out.append(b[f.value])
        }
        if !own.isEmpty {
            if out.count > valueStart { out.append(", ") }
            appendSanitizedValue(own, to: &out)
        }
        if out.count == valueStart {
            out.truncate(to: mark)
        } else {
            out.append("\r\n")
        }
    }

    /// Fields a response with a minted token must not pass on as they are:
    /// caching directives (replaced by no-store) and Vary (re-written with
    /// Authorization added).
    static func isCachingField(_ b: [UInt8], _ name: Range<Int>) -> Bool {
        S.equalsLower(b, name, "cache-control") || S.equalsLower(b, name, "expires")
            || S.equalsLower(b, name, "vary")
    }

    /// `Cache-Control: no-store`, and the upstream's Vary values merged into
    /// one line with `Authorization` added unless listed (or `*`, which
    /// already varies on everything).
    static func writeNoStore(_ head: HTTPHead, into out: inout HeadCursor) {
        let b = head.bytes
        out.append("Cache-Control: no-store\r\n")
        out.append("Vary: ")
        let valueStart = out.count
        var covered = false
        for f in head.fields where f.known == .other && S.equalsLower(b, f.name, "vary") && !f.value.isEmpty {
            _ = S.forEachListElement(b, f.value) { el in
                if S.equalsLower(b, el, "authorization") || S.equalsLower(b, el, "*") { covered = true }
                return true
            }
            if out.count > valueStart { out.append(", ") }
            out.append(b[f.value])
        }
        if !covered {
            if out.count > valueStart { out.append(", ") }
            out.append("Authorization")
        }
        out.append("\r\n")
    }

    /// `prefix value CRLF` when `value` is not empty.
    static func writeOwn(_ prefix: StaticString, _ value: some Collection<UInt8>, into out: inout HeadCursor) {
        guard !value.isEmpty else { return }
        out.append(prefix)
        appendSanitizedValue(value, to: &out)
        out.append("\r\n")
    }

    static func writeFraming(_ framing: BodyFraming, into out: inout HeadCursor) {
        switch framing {
        case .contentLength(let n):
            out.append("Content-Length: ")
            out.appendDecimal(n)
            out.append("\r\n")
        case .chunked:
            out.append("Transfer-Encoding: chunked\r\n")
        case .none, .untilClose:
            break
        }
    }

    static func writeExtra(_ fields: [(name: [UInt8], value: [UInt8])], into out: inout HeadCursor) {
        for (name, value) in fields {
            appendSanitizedName(name, to: &out)
            out.append(": ")
            appendSanitizedValue(value, to: &out)
            out.append("\r\n")
        }
    }

    /// Values built from tokens or config could carry CR/LF (header
    /// injection): every control byte except HTAB becomes a space.
    static func appendSanitizedValue(_ v: some Collection<UInt8>, to out: inout HeadCursor) {
        // Almost every value is clean: one copy, not one per byte.
        if !v.contains(where: { needsSanitizing($0) }),
           v.withContiguousStorageIfAvailable({ out.append(UnsafeRawBufferPointer($0)) }) != nil {
            return
        }
        for c in v { out.append(needsSanitizing(c) ? S.sp : c) }
    }

    @inline(__always)
    static func needsSanitizing(_ c: UInt8) -> Bool { (c < 0x20 && c != S.htab) || c == 0x7F }

    /// Names keep token bytes only.
    static func appendSanitizedName(_ n: [UInt8], to out: inout HeadCursor) {
        for c in n where S.isTchar(c) { out.append(c) }
    }
}
