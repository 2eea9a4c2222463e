import Testing
@testable import GatewayCore

/// Named request fixtures: valid ones parse, the rest fail with one error.
enum RequestFixture {
    static let simpleGet = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
    static let postWithLength = "POST /api/items HTTP/1.1\r\nHost: api\r\nContent-Length: 11\r\n\r\nhello world"
    static let postChunked = "POST /up HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    static let http10 = "GET / HTTP/1.0\r\n\r\n"
    static let http10KeepAlive = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    static let expectContinue = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"
    static let websocket = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n"
    static let absoluteForm = "GET http://example.com:8080/p?x HTTP/1.1\r\nHost: other\r\n\r\n"
    static let pipelined = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
}

@Suite struct HTTPHeadParserTests {
    // MARK: valid requests

    @Test func simpleGet() throws {
        let head = try #require(parseHead(RequestFixture.simpleGet))
        #expect(head.string(head.method) == "GET")
        #expect(head.string(head.target) == "/index.html?q=1")
        #expect(head.string(head.startLine) == "GET /index.html?q=1 HTTP/1.1")
        #expect(head.version == .http11)
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(!head.expectContinue && !head.isUpgrade)
        #expect(head.hostField == 0)
        #expect(head.fields.count == 2)
        #expect(head.fields[0].known == .host && head.string(head.fields[0].value) == "example.com")
        #expect(head.string(head.fields[1].line) == "Accept: */*\r\n")
        #expect(head.bytes == bytes(RequestFixture.simpleGet))
    }

    @Test func contentLengthAndChunkedFraming() throws {
        let (o, head) = parseAllWays(bytes(RequestFixture.postWithLength))
        #expect(head?.framing == .contentLength(11))
        // The body is not consumed.
        #expect(o.end == RequestFixture.postWithLength.utf8.count - 11)
        #expect(parseHead(RequestFixture.postChunked)?.framing == .chunked)
    }

    @Test func keepAliveDefaultsAndConnectionTokens() {
        #expect(parseHead(RequestFixture.http10)?.keepAlive == false)
        #expect(parseHead(RequestFixture.http10)?.version == .http10)
        #expect(parseHead(RequestFixture.http10KeepAlive)?.keepAlive == true)
        #expect(parseHead("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n")?.keepAlive == false)
        #expect(parseHead("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")?.keepAlive == false)
    }

    @Test func expectContinue() {
        #expect(parseHead(RequestFixture.expectContinue)?.expectContinue == true)
        // RFC 9110 §10.1.1: ignored from HTTP/1.0 clients.
        #expect(parseHead("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")?.expectContinue == false)
        #expect(parseError("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n") == .unsupportedExpectation)
        #expect(HTTPParseError.unsupportedExpectation.status == 417)
    }

    @Test func websocketUpgrade() {
        #expect(parseHead(RequestFixture.websocket)?.isUpgrade == true)
        #expect(parseHead("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")?.isUpgrade == false)
        #expect(parseHead("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n")?.isUpgrade == false)
    }

    @Test func absoluteFormTarget() throws {
        let head = try #require(parseHead(RequestFixture.absoluteForm))
        #expect(head.string(head.target) == "http://example.com:8080/p?x")
        #expect(head.targetAuthority.map(head.string) == "example.com:8080")
        #expect(head.string(head.targetPathAndQuery) == "/p?x")
        let origin = try #require(parseHead(RequestFixture.simpleGet))
        #expect(origin.targetAuthority == nil)
        #expect(origin.targetPathAndQuery == origin.target)
    }

    @Test func leadingEmptyLinesAreSkippedAndNotKept() throws {
        let input = "\r\n\r\n" + RequestFixture.simpleGet
        let (o, head) = parseAllWays(bytes(input))
        #expect(o.end == input.utf8.count)
        #expect(head?.bytes == bytes(RequestFixture.simpleGet))
        #expect(parseError(String(repeating: "\r\n", count: 5) + RequestFixture.simpleGet) == .badStartLine)
    }

    @Test func pipelinedRequestsStopAtTheFirstHead() throws {
        let input = bytes(RequestFixture.pipelined)
        let (o, head) = parseAllWays(input)
        let first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n".utf8.count
        #expect(o.end == first)
        #expect(head.map { $0.string($0.target) } == "/a")
        // The same parser continues with the rest.
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 1024)
        let steps: [String] = input.withUnsafeBytes { raw in
            var out: [String] = []
            var rest = raw[...]
            while !rest.isEmpty {
                switch parser.parse(UnsafeRawBufferPointer(rebasing: rest)) {
                case .complete(let h, let consumed):
                    out.append(h.string(h.target)); rest = rest.dropFirst(consumed)
                default: return out + ["?"]
                }
            }
            return out
        }
        #expect(steps == ["/a", "/b"])
    }

    @Test func knownFieldTable() throws {
        let names: [(String, KnownField)] = [
            ("Host", .host), ("content-length", .contentLength), ("TRANSFER-ENCODING", .transferEncoding),
            ("Connection", .connection), ("Keep-Alive", .keepAlive), ("Proxy-Connection", .proxyConnection),
            ("TE", .te), ("Trailer", .trailer), ("Upgrade", .upgrade), ("Expect", .expect),
            ("Authorization", .authorization), ("Cookie", .cookie), ("X-Forwarded-For", .xForwardedFor),
            ("x-forwarded-proto", .xForwardedProto), ("X-Forwarded-Host", .xForwardedHost),
            ("X-Request-ID", .xRequestID), ("Access-Control-Expose-Headers", .accessControlExposeHeaders),
            ("X-Other", .other), ("Hosts", .other), ("T3", .other),
        ]
        for (name, known) in names {
            let b = bytes(name)
            #expect(KnownField.lookup(b, 0..<b.count) == known, "\(name)")
        }
    }

    @Test func valueOWSIsTrimmed() throws {
        let head = try #require(parseHead("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v a l \t \r\nX-Empty:\r\n\r\n"))
        #expect(head.string(head.fields[1].value) == "v a l")
        #expect(head.string(head.fields[2].value) == "")
        #expect(head.string(head.fields[1].line) == "X-A: \t v a l \t \r\n")
    }

    @Test func obsTextInValueIsAllowed() {
        #expect(parseHead("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\u{e9}\r\n\r\n") != nil)
    }

    // MARK: errors, one per case

    @Test func startLineErrors() {
        #expect(parseError("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("GET /\t HTTP/1.1\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError(" GET / HTTP/1.1\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("GET /\r\n\r\n") == .badStartLine)
        #expect(parseError("GET / http/1.1\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("GET / HTTP/1.x\r\nHost: a\r\n\r\n") == .badStartLine)
        #expect(parseError("\u{16}\u{03}\u{01}\u{02}\u{00}\r\n\r\n") == .badStartLine)
    }

    @Test func unsupportedVersions() {
        #expect(parseError("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == .unsupportedVersion)
        #expect(parseError("GET / HTTP/0.9\r\n\r\n") == .unsupportedVersion)
        #expect(parseError("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == .unsupportedVersion)
        #expect(HTTPParseError.unsupportedVersion.status == 505)
    }

    @Test func fieldNameErrors() {
        #expect(parseError("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == .badFieldName)
        #expect(parseError("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n") == .badFieldName)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n") == .badFieldName)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n") == .badFieldName)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n") == .badFieldName)
    }

    @Test func fieldValueErrors() {
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7f}\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1b}\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == .badFieldValue)
        #expect(parseError("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n") == .badFieldValue)
    }

    @Test func obsFold() {
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n") == .obsFold)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n") == .obsFold)
        #expect(parseError("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == .obsFold)
    }

    @Test func bareLF() {
        #expect(parseError("GET / HTTP/1.1\nHost: a\r\n\r\n") == .bareLF)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n") == .bareLF)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\n\n") == .bareLF)
        #expect(parseError("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == .bareLF)
    }

    @Test func smugglingFramingVectors() {
        let base = "POST / HTTP/1.1\r\nHost: a\r\n"
        #expect(parseError(base + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == .conflictingFraming)
        #expect(parseError(base + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == .conflictingFraming)
        #expect(parseError(base + "Transfer-Encoding: xchunked\r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError(base + "Transfer-Encoding: chunked, identity\r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError(base + "Transfer-Encoding: identity, chunked\r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError(base + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .unsupportedTransferEncoding)
        #expect(parseError(base + "Transfer-Encoding: chunked;q=1\r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError(base + "Transfer-Encoding: \r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == .unsupportedTransferEncoding)
        #expect(parseError(base + "Content-Length: +5\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: -5\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 5, 6\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 0x5\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 5 5\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 5,\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length:\r\n\r\n") == .badContentLength)
        #expect(parseError(base + "Content-Length: 18446744073709551616\r\n\r\n") == .badContentLength)
        #expect(parseHead(base + "Content-Length: 18446744073709551615\r\n\r\n")?.framing
                == .contentLength(UInt64.max))
        #expect(parseHead(base + "Content-Length: 5, 5\r\nContent-Length: 005\r\n\r\n")?.framing == .contentLength(5))
        #expect(parseError(base + "Content-Length : 5\r\n\r\n") == .badFieldName)
        #expect(parseError(base + "Content-Length: 5\r\n Transfer-Encoding: chunked\r\n\r\n") == .obsFold)
        #expect(parseError(base + "Content-Length: 5\u{0}\r\n\r\n") == .badFieldValue)
    }

    @Test func hostRules() {
        #expect(parseError("GET / HTTP/1.1\r\n\r\n") == .missingHost)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n") == .duplicateHost)
        #expect(parseError("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == .duplicateHost)
        #expect(parseHead("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")?.hostField == 0)
        #expect(parseHead("GET / HTTP/1.1\r\nHost:\r\n\r\n")?.hostField == 0)
    }

    /// Host is a reg-name or IP literal with an optional port, nothing else:
    /// no lists, no sub-delims, no escapes (two readers must agree on it).
    @Test func hostIsStrict() {
        for good in ["example.com", "EXAMPLE.com:8080", "a_b-c.d~e", "127.0.0.1:1", "[::1]", "[2001:db8::1]:443",
                     "[::ffff:127.0.0.1]:65535", "localhost."] {
            #expect(parseHead("GET / HTTP/1.1\r\nHost: \(good)\r\n\r\n")?.hostField == 0, "\(good)")
        }
        for bad in ["a.com,evil.com", "a.com, evil.com", "a;b", "a=b", "a!b", "a%2eb", "a.com:", "a.com:123456",
                    "a.com:8x", "a:1:2", ":80", "[::1", "[::1]x", "[]", "[v1.x]", "[1.2.3.4]", "[::1]:", "a b",
                    "a'b", "(a)", "*", "a+b", "a$b", "a&b"] {
            #expect(parseError("GET / HTTP/1.1\r\nHost: \(bad)\r\n\r\n") == .badFieldValue, "\(bad)")
        }
    }

    @Test func oneAuthorizationField() {
        #expect(parseHead("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n\r\n") != nil)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\nauthorization: Bearer x\r\n\r\n")
                == .duplicateAuthorization)
        #expect(parseError("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eA==\r\nAUTHORIZATION: Bearer y\r\n\r\n")
                == .duplicateAuthorization)
        #expect(HTTPParseError.duplicateAuthorization.status == 400)
        // Responses may repeat any field name; the rule is for requests.
        var parser = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false), maxHeadBytes: 4096)
        let raw = Array("HTTP/1.1 204 No Content\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n".utf8)
        let step = raw.withUnsafeBytes { parser.parse($0) }
        if case .complete = step {} else { Issue.record("response with two Authorization fields refused: \(step)") }
    }

    @Test func targetForms() {
        #expect(parseError("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET /a/%2e%2E/b HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET /a/..%2Fb HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
        #expect(parseError("GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n") == .badTarget)
    }

    // MARK: size limit

    @Test func headLimitExactlyAtAndOneOver() {
        let head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        let n = head.utf8.count
        #expect(parseAllWays(bytes(head), max: n).0.end == n)
        #expect(parseError(head, max: n - 1) == .headTooLarge)
        // Body bytes after the head do not count.
        #expect(parseAllWays(bytes(head + "xxxxxxxx"), max: n).0.end == n)
        // An endless line fails as soon as it passes the limit, before any LF.
        let (o, _) = feedHead(bytes("GET /" + String(repeating: "a", count: 100)), kind: .request, max: 64, cuts: [])
        #expect(o.error == .headTooLarge)
        #expect(HTTPParseError.headTooLarge.status == 431)
    }

    @Test func resetKeepsWorkingAfterFailure() throws {
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 1024)
        let bad = bytes("GET / HTTP/1.1\nHost: a\r\n\r\n")
        let good = bytes(RequestFixture.simpleGet)
        #expect(bad.withUnsafeBytes { parser.parse($0) }.failure == .bareLF)
        // Stays failed until reset.
        #expect(good.withUnsafeBytes { parser.parse($0) }.failure == .bareLF)
        parser.reset(kind: .request)
        #expect(good.withUnsafeBytes { parser.parse($0) }.failure == nil)
    }

    // MARK: responses

    @Test func responseFramingTable() {
        func framing(_ s: String, head: Bool = false) -> BodyFraming? {
            parseHead(s, kind: .response(requestMethodIsHEAD: head))?.framing
        }
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n") == .contentLength(10))
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head: true) == BodyFraming.none)
        #expect(framing("HTTP/1.1 100 Continue\r\n\r\n") == BodyFraming.none)
        #expect(framing("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") == BodyFraming.none)
        #expect(framing("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n") == BodyFraming.none)
        #expect(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n") == BodyFraming.none)
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == .untilClose)
        #expect(framing("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .untilClose)
        #expect(framing("HTTP/1.1 200 OK\r\nServer: s\r\n\r\n") == .untilClose)
        #expect(parseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                           kind: .response(requestMethodIsHEAD: false)) == .conflictingFraming)
        #expect(parseError("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
                           kind: .response(requestMethodIsHEAD: false)) == .badContentLength)
    }

    @Test func responseStatusLineAndConnection() throws {
        let kind = HTTPHeadParser.Kind.response(requestMethodIsHEAD: false)
        let ok = try #require(parseHead("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", kind: kind))
        #expect(ok.status == 404 && ok.keepAlive && ok.method.isEmpty && ok.hostField == nil)
        #expect(parseHead("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", kind: kind)?.status == 200)
        #expect(parseHead("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", kind: kind)?.status == 200)   // lenient
        #expect(parseHead("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", kind: kind)?.isUpgrade == true)
        #expect(parseHead("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", kind: kind)?.keepAlive == false)
        #expect(parseHead("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", kind: kind)?.keepAlive == false)
        #expect(parseHead("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", kind: kind)?.keepAlive == true)
        #expect(parseHead("HTTP/1.1 200 OK\r\n\r\n", kind: kind)?.keepAlive == false)       // read until close
        #expect(parseError("HTTP/1.1 20 OK\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/1.1 099 X\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/1.1 600 X\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/1.1  200 OK\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/1.1 200 O\u{0}K\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/2.0 200 OK\r\n\r\n", kind: kind) == .unsupportedVersion)
        #expect(parseError("HTTP/2.0 200\r\n\r\n", kind: kind) == .unsupportedVersion)
        #expect(parseError("\r\nHTTP/1.1 200 OK\r\n\r\n", kind: kind) == .badStartLine)
        #expect(parseError("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", kind: kind) == .bareLF)
        // Expect and Host mean nothing in a response.
        #expect(parseHead("HTTP/1.1 200 OK\r\nExpect: x\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
                          kind: kind)?.expectContinue == false)
    }
}

extension HeadParseStep {
    var failure: HTTPParseError? { if case .failed(let e) = self { return e } else { return nil } }
}

/// Field values long enough for the eight-bytes-at-a-time scan, against the
/// byte rule: any control byte but HTAB, or DEL, is a 400; otherwise the
/// value is what lies between the optional whitespace on both sides.
@Suite struct HTTPHeadParserFieldValueTests {
    @Test func longValuesFollowTheByteRule() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x20, 0x20, 0x09, 0x41, 0x7E, 0x21, 0x80, 0xFF, 0x7F, 0x00, 0x1F, 0x3A, 0x2C]
        for _ in 0..<800 {
            let length = Int.random(in: 0...40, using: &rng)
            var value = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            // Mostly clean values, some with one bad byte.
            if Bool.random(using: &rng) { value = value.map { $0 == 0x7F || $0 < 0x20 && $0 != 0x09 ? 0x61 : $0 } }
            let message = Array("GET / HTTP/1.1\r\nHost: a\r\nX-V: ".utf8) + value + Array("\r\n\r\n".utf8)
            let bad = value.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
            let isWS: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
            let (outcome, head) = parseAllWays(message, kind: .request, max: 8192)
            if bad {
                #expect(outcome.error == .badFieldValue, "\(value)")
                continue
            }
            guard let head else {
                Issue.record("\(value): \(outcome)")
                continue
            }
            let start = value.firstIndex { !isWS($0) } ?? value.count
            let end = (value.lastIndex { !isWS($0) }).map { $0 + 1 } ?? start
            let expected = start < end ? Array(value[start..<end]) : []
            #expect(Array(head.bytes[head.fields[1].value]) == expected, "\(value)")
        }
    }
}
