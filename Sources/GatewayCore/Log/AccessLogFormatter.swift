/// What one access log line says about one request (SPEC §2). Built by the
/// runtime when the exchange ends.
///
/// Byte fields are slices of the received head (`head.forwardedTarget`
/// shares storage, no copy). The record has no field for headers, cookies or
/// the query string, so the formatter never sees a token: the target is cut at
/// `?` or `#` when written (a query may hold `access_token=...`).
public struct AccessLogRecord: Sendable {
    /// Unix milliseconds when the request arrived (injected clock).
    public var timeUnixMs: Int64
    /// Client address as the runtime prints it (`192.0.2.1`, `2001:db8::1`).
    public var client: String
    /// Request method, raw bytes.
    public var method: ArraySlice<UInt8>
    /// Request target as routed and forwarded (`HTTPHead.forwardedTarget`:
    /// the normalized origin-form path and query); the query is dropped on output.
    public var target: ArraySlice<UInt8>
    /// `Router.routeName`, or "-" when no route matched.
    public var route: String
    public var status: Int
    /// The upstream server `host:port` that answered, or "-".
    public var upstream: String
    /// From request arrival to the last response byte written, microseconds.
    public var durationMicroseconds: Int64
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var auth: AuthResultLabel
    /// The token's `sub`, when a token was verified.
    public var sub: String?
    /// The `X-Request-Id` sent upstream (the client's, or the one added).
    public var requestID: ArraySlice<UInt8>

    public init(timeUnixMs: Int64, client: String, method: ArraySlice<UInt8>, target: ArraySlice<UInt8>,
                route: String, status: Int, upstream: String, durationMicroseconds: Int64,
                bytesIn: UInt64, bytesOut: UInt64, auth: AuthResultLabel, sub: String?,
                requestID: ArraySlice<UInt8>) {
        self.timeUnixMs = timeUnixMs; self.client = client; self.method = method; self.target = target
        self.route = route; self.status = status; self.upstream = upstream
        self.durationMicroseconds = durationMicroseconds; self.bytesIn = bytesIn; self.bytesOut = bytesOut
        self.auth = auth; self.sub = sub; self.requestID = requestID
    }
}

/// Appends one access log line (ending in `\n`) to a byte buffer the runtime
/// later writes to stdout. Pure: no clock, no global state, no Foundation.
/// Every value taken from the network is escaped and its ill-formed UTF-8
/// replaced by U+FFFD, so a line is always valid UTF-8 on one line.
public enum AccessLogFormatter {
    /// One JSON object per line, keys in SPEC §2 order:
    /// `{"time":"2026-11-23T10:50:22.123Z","client":"192.0.2.1","method":"GET",
    /// "path":"/v1/items","route":"/v1/","status":200,"upstream":"127.0.0.1:9000",
    /// "duration_ms":1.234,"bytes_in":0,"bytes_out":512,"auth":"ok","sub":"alice",
    /// "request_id":"…"}`; `sub` is `null` when absent.
    public static func json(_ r: AccessLogRecord, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        key("time", first: true, &out)
        out.append(quote)
        UTCTimestamp.appendRFC3339(unixMs: r.timeUnixMs, into: &out)
        out.append(quote)
        key("client", &out); jsonString(r.client.utf8, &out)
        key("method", &out); jsonString(r.method, &out)
        key("path", &out); jsonString(pathOnly(r.target), &out)
        key("route", &out); jsonString(r.route.utf8, &out)
        key("status", &out); LogEscaping.appendDecimal(Int64(r.status), into: &out)
        key("upstream", &out); jsonString(r.upstream.utf8, &out)
        key("duration_ms", &out); appendMilliseconds(r.durationMicroseconds, &out)
        key("bytes_in", &out); LogEscaping.appendDecimal(r.bytesIn, into: &out)
        key("bytes_out", &out); LogEscaping.appendDecimal(r.bytesOut, into: &out)
        key("auth", &out); jsonString(r.auth.label.utf8, &out)
        key("sub", &out)
        if let sub = r.sub { jsonString(sub.utf8, &out) } else { out.append(contentsOf: "null".utf8) }
        key("request_id", &out); jsonString(r.requestID, &out)
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
    }

    /// One `key=value` line (logfmt, as Heroku and Go's slog write it), same
    /// fields and order as `json`:
    /// `time=2026-11-23T10:50:22.123Z client=192.0.2.1 method=GET path=/v1/items
    /// route=/v1/ status=200 upstream=127.0.0.1:9000 duration_ms=1.234 bytes_in=0
    /// bytes_out=512 auth=ok sub=alice request_id=…`. A value that is empty or
    /// holds a space, `"`, `=`, `\` or a control character is written in double
    /// quotes with JSON escapes; a missing `sub` is `-`.
    public static func text(_ r: AccessLogRecord, into out: inout [UInt8]) {
        out.append(contentsOf: "time=".utf8)
        UTCTimestamp.appendRFC3339(unixMs: r.timeUnixMs, into: &out)
        textField("client", r.client.utf8, &out)
        textField("method", r.method, &out)
        textField("path", pathOnly(r.target), &out)
        textField("route", r.route.utf8, &out)
        out.append(contentsOf: " status=".utf8); LogEscaping.appendDecimal(Int64(r.status), into: &out)
        textField("upstream", r.upstream.utf8, &out)
        out.append(contentsOf: " duration_ms=".utf8); appendMilliseconds(r.durationMicroseconds, &out)
        out.append(contentsOf: " bytes_in=".utf8); LogEscaping.appendDecimal(r.bytesIn, into: &out)
        out.append(contentsOf: " bytes_out=".utf8); LogEscaping.appendDecimal(r.bytesOut, into: &out)
        out.append(contentsOf: " auth=".utf8); out.append(contentsOf: r.auth.label.utf8)
        if let sub = r.sub { textField("sub", sub.utf8, &out) } else { out.append(contentsOf: " sub=-".utf8) }
        textField("request_id", r.requestID, &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// The target up to (not including) the first `?` or `#`: the query may
    /// carry a token (`query:NAME` token source, or a client's mistake).
    public static func pathOnly(_ target: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let cut = target.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
        else { return target }
        return target[target.startIndex..<cut]
    }

    // MARK: - Pieces

    private static let quote = UInt8(ascii: "\"")

    @inline(__always)
    private static func key(_ name: StaticString, first: Bool = false, _ out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(quote)
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(quote)
        out.append(UInt8(ascii: ":"))
    }

    @inline(__always)
    private static func jsonString(_ bytes: some Collection<UInt8>, _ out: inout [UInt8]) {
        out.append(quote)
        LogEscaping.appendJSONEscaped(bytes, into: &out)
        out.append(quote)
    }

    private static func textField(_ name: StaticString, _ value: some Collection<UInt8>, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "="))
        let needsQuotes = value.isEmpty || value.contains { b in
            b <= 0x20 || b == 0x7F || b == quote || b == UInt8(ascii: "=") || b == UInt8(ascii: "\\")
        }
        if needsQuotes { out.append(quote) }
        LogEscaping.appendJSONEscaped(value, into: &out)
        if needsQuotes { out.append(quote) }
    }

    /// Microseconds as milliseconds with exactly three decimals (`1.234`,
    /// `0.050`); negative durations (a clock step) are written as `0.000`.
    private static func appendMilliseconds(_ us: Int64, _ out: inout [UInt8]) {
        let v = max(0, us)
        LogEscaping.appendDecimal(UInt64(v / 1000), into: &out)
        out.append(UInt8(ascii: "."))
        LogEscaping.appendPadded(Int(v % 1000), width: 3, into: &out)
    }
}
