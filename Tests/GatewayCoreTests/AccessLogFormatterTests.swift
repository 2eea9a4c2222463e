import Testing
@testable import GatewayCore

@Suite struct AccessLogFormatterTests {
    /// A plain request: authenticated, proxied, query carrying a token.
    static let plain = AccessLogRecord(
        timeUnixMs: 1_795_431_022_123, client: "192.0.2.7", method: ArraySlice("GET".utf8),
        target: ArraySlice("/v1/items?access_token=eyJhbGciOi.SECRET.sig&x=1".utf8),
        route: "/v1/", status: 200, upstream: "127.0.0.1:9000", durationMicroseconds: 1_234,
        bytesIn: 0, bytesOut: 512, auth: .ok, sub: "alice", requestID: ArraySlice("req-1".utf8))

    /// Hostile bytes everywhere the network reaches: an ill-formed UTF-8 byte,
    /// a quote, a control byte, a fragment, a multi-byte character to keep.
    static let weird = AccessLogRecord(
        timeUnixMs: 0, client: "2001:db8::1", method: ArraySlice("P\u{7F}ST".utf8),
        target: ArraySlice(Array("/caf\u{E9}/".utf8) + [0xFF, 0x22, 0x78, 0x01, 0x5C]
                           + Array("#frag?token=SECRET".utf8)),
        route: "-", status: 404, upstream: "-", durationMicroseconds: 50,
        bytesIn: 17, bytesOut: 0, auth: .none, sub: nil,
        requestID: ArraySlice([0x61, 0xC0, 0xAF, 0x20, 0x62]))

    func json(_ r: AccessLogRecord) -> String {
        var out: [UInt8] = []
        AccessLogFormatter.json(r, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func text(_ r: AccessLogRecord) -> String {
        var out: [UInt8] = []
        AccessLogFormatter.text(r, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func jsonLine() {
        #expect(json(Self.plain) == #"{"time":"2026-11-23T10:50:22.123Z","client":"192.0.2.7","method":"GET","path":"/v1/items","route":"/v1/","status":200,"upstream":"127.0.0.1:9000","duration_ms":1.234,"bytes_in":0,"bytes_out":512,"auth":"ok","sub":"alice","request_id":"req-1"}"# + "\n")
    }

    @Test func jsonLineWithWeirdBytes() {
        let line = json(Self.weird)
        #expect(line == #"{"time":"1970-01-01T00:00:00.000Z","client":"2001:db8::1","method":"P\u007fST","path":"/café/\#u{FFFD}\"x\u0001\\","route":"-","status":404,"upstream":"-","duration_ms":0.050,"bytes_in":17,"bytes_out":0,"auth":"none","sub":null,"request_id":"a\#u{FFFD}\#u{FFFD} b"}"# + "\n")
        #expect(!line.contains("SECRET"))
        #expect(!line.contains("frag"))
    }

    @Test func textLine() {
        #expect(text(Self.plain) == "time=2026-11-23T10:50:22.123Z client=192.0.2.7 method=GET path=/v1/items route=/v1/ status=200 upstream=127.0.0.1:9000 duration_ms=1.234 bytes_in=0 bytes_out=512 auth=ok sub=alice request_id=req-1\n")
    }

    @Test func textLineWithWeirdBytes() {
        let line = text(Self.weird)
        #expect(line == #"time=1970-01-01T00:00:00.000Z client=2001:db8::1 method="P\u007fST" path="/café/\#u{FFFD}\"x\u0001\\" route=- status=404 upstream=- duration_ms=0.050 bytes_in=17 bytes_out=0 auth=none sub=- request_id="a\#u{FFFD}\#u{FFFD} b""# + "\n")
        #expect(!line.contains("SECRET"))
        #expect(line.filter { $0 == "\n" }.count == 1)
    }

    @Test func textQuotesEmptyAndSpacedValues() {
        var r = Self.plain
        r.sub = "Alice Smith=admin"
        r.requestID = []
        let line = text(r)
        #expect(line.contains(#" sub="Alice Smith=admin" "#))
        #expect(line.hasSuffix(#" request_id="""# + "\n"))
    }

    @Test func subEscapedInJSON() {
        var r = Self.plain
        r.sub = "al\"ice\n\u{2028}"
        #expect(json(r).contains(#""sub":"al\"ice\n\#u{2028}""#))
    }

    @Test(arguments: [
        ("/a?b", "/a"), ("/a#b", "/a"), ("/a", "/a"), ("?x", ""), ("/a/b?c?d#e", "/a/b"),
        ("http://h/p?q", "http://h/p"),
    ])
    func pathDropsQueryAndFragment(target: String, path: String) {
        let cut = AccessLogFormatter.pathOnly(ArraySlice(target.utf8))
        #expect(Array(cut) == Array(path.utf8))
    }

    @Test func pathOnlyOfASliceInsideAHead() {
        // Slices of a received head keep their indices; cutting must honour them.
        let head = Array("GET /x/y?t=1 HTTP/1.1\r\n".utf8)
        let target = head[4..<12]
        #expect(Array(AccessLogFormatter.pathOnly(target)) == Array("/x/y".utf8))
    }

    @Test func durationFormatting() {
        var r = Self.plain
        for (us, want) in [(Int64(0), "0.000"), (999, "0.999"), (1_000, "1.000"), (12_345_678, "12345.678"),
                           (-5, "0.000")] {
            r.durationMicroseconds = us
            #expect(json(r).contains(#""duration_ms":\#(want),"#))
        }
    }

    @Test func appendsToExistingBuffer() {
        var out = Array("prev\n".utf8)
        AccessLogFormatter.json(Self.plain, into: &out)
        AccessLogFormatter.text(Self.plain, into: &out)
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "prev")
    }
}
