import Testing
@testable import GatewayCore

enum WriterFixture {
    /// A client request carrying every kind of field the writer treats specially.
    static let request =
        "POST /api/v1/items?x=%2F&y=1 HTTP/1.0\r\n" +
        "Host: shop.example\r\n" +
        "User-Agent: curl/8\r\n" +
        "Connection: keep-alive, X-Hop, Authorization\r\n" +
        "X-Hop: secret\r\n" +
        "Keep-Alive: timeout=5\r\n" +
        "Proxy-Connection: keep-alive\r\n" +
        "TE: trailers\r\n" +
        "Trailer: X-Sum\r\n" +
        "Upgrade: websocket\r\n" +
        "Expect: 100-continue\r\n" +
        "Content-Length: 3\r\n" +
        "X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n" +
        "x-forwarded-for: 3.3.3.3\r\n" +
        "X-Forwarded-Proto: http\r\n" +
        "X-User-Id: forged\r\n" +
        "x-user_id: forged too\r\n" +
        "Authorization: Bearer abc\r\n" +
        "Cookie: a=b\r\n" +
        "X-Custom:   spaced value  \r\n" +
        "\r\n"

    static let response =
        "HTTP/1.1 200 Fine Thanks\r\n" +
        "Content-Type: text/plain\r\n" +
        "Connection: keep-alive, X-Internal\r\n" +
        "X-Internal: 1\r\n" +
        "Keep-Alive: timeout=5\r\n" +
        "Transfer-Encoding: chunked\r\n" +
        "Gateway-Update-Claims: {\"a\":1}\r\n" +
        "Access-Control-Expose-Headers: X-A, X-B\r\n" +
        "Set-Cookie: s=1\r\n" +
        "\r\n"
}

func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

@Suite struct HeadWriterTests {
    @Test func upstreamRequestRewrite() throws {
        let head = try #require(parseHead(WriterFixture.request))
        var out: [UInt8] = [1, 2]   // the writer only appends
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(
            framing: .contentLength(3), removeFieldNames: [bytes("x-user-id")], clientAddress: bytes("10.0.0.9"),
            forwardedProto: bytes("https"), forwardsHost: true, requestID: bytes("req-1"),
            extraFields: [(bytes("X-User-Id"), bytes("42"))]))
        #expect(Array(out.prefix(2)) == [1, 2])
        let expected =
            "POST /api/v1/items?x=%2F&y=1 HTTP/1.1\r\n" +
            "Host: shop.example\r\n" +
            "User-Agent: curl/8\r\n" +
            "Authorization: Bearer abc\r\n" +
            "Cookie: a=b\r\n" +
            "X-Custom:   spaced value  \r\n" +
            "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\r\n" +
            "X-Forwarded-Proto: https\r\n" +
            "X-Forwarded-Host: shop.example\r\n" +
            "X-Request-Id: req-1\r\n" +
            "Content-Length: 3\r\n" +
            "X-User-Id: 42\r\n" +
            "Connection: keep-alive\r\n" +
            "\r\n"
        #expect(text(Array(out.dropFirst(2))) == expected)
    }

    @Test func aNormalTargetIsForwardedByteForByte() throws {
        let target = "/a/~user/b%2Cc;v=1/%E2%9C%93?q=%e2%9c%93&r=a+b&s=%2e%2e&t=%2f//x"
        let head = try #require(parseHead("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none))
        #expect(text(out) == "GET \(target) HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
    }

    /// The upstream gets the path routing read (SPEC §4.1): unreserved
    /// escapes decoded, hex upper-cased, `//` merged, parameters kept, the
    /// query byte for byte.
    @Test(arguments: [
        ("/%61dmin/x", "/admin/x"),
        ("//admin/x", "/admin/x"),
        ("/admin;p/x", "/admin;p/x"),
        ("/;p/admin/x", "/;p/admin/x"),
        ("/%2561dmin/x", "/%2561dmin/x"),
        ("/a/%7Euser/b%2cc?q=%e2%9c%93&s=%2F//x", "/a/~user/b%2Cc?q=%e2%9c%93&s=%2F//x"),
        ("///a//b/?", "/a/b/?"),
    ])
    func theNormalizedTargetIsForwarded(target: String, forwarded: String) throws {
        let head = try #require(parseHead("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none))
        #expect(text(out) == "GET \(forwarded) HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
    }

    /// Absolute-form (accepted only for the gateway's own host) goes to the
    /// origin in origin-form (RFC 9112 §3.2.2).
    @Test(arguments: [
        ("http://a/x?q=1", "/x?q=1"),
        ("HTTP://a:80//%78", "/x"),
        ("http://a", "/"),
        ("http://a?q", "/?q"),
    ])
    func absoluteFormGoesUpstreamAsOriginForm(target: String, forwarded: String) throws {
        let head = try #require(parseHead("OPTIONS \(target) HTTP/1.1\r\nHost: a\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none))
        #expect(text(out) == "OPTIONS \(forwarded) HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func requestIDKeptWhenPresentAndChunkedReframing() throws {
        let head = try #require(parseHead(
            "PUT /f HTTP/1.1\r\nHost: a\r\nX-Request-Id: client-id\r\nTransfer-Encoding: chunked\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(
            framing: .chunked, clientAddress: bytes("127.0.0.1"), requestID: bytes("gw-id")))
        #expect(text(out) == "PUT /f HTTP/1.1\r\nHost: a\r\nX-Request-Id: client-id\r\n" +
                "X-Forwarded-For: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func generatedRequestIDIsSixteenHexDigitsAndNeverReplacesTheClients() throws {
        let plain = try #require(parseHead("GET /f HTTP/1.1\r\nHost: a\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(plain, into: &out, options: UpstreamRequestOptions(
            framing: .none, generatedRequestID: 0x00ab_cdef_0123_4567))
        #expect(text(out) == "GET /f HTTP/1.1\r\nHost: a\r\nX-Request-Id: 00abcdef01234567\r\n" +
                "Connection: keep-alive\r\n\r\n")
        let withID = try #require(parseHead("GET /f HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\n\r\n"))
        out = []
        HeadWriter.writeUpstreamRequest(withID, into: &out, options: UpstreamRequestOptions(
            framing: .none, generatedRequestID: 7))
        #expect(text(out) == "GET /f HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\nConnection: keep-alive\r\n\r\n")
        #expect(RequestIDText.hex(UInt64.max) == bytes("ffffffffffffffff"))
        #expect(RequestIDText.hex(0) == bytes("0000000000000000"))
    }

    @Test func websocketTunnel() throws {
        let head = try #require(parseHead(RequestFixture.websocket))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none,
                                                                                          tunnelUpgrade: true))
        #expect(text(out) == "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
    }

    @Test func injectedValuesAreSanitized() throws {
        let head = try #require(parseHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(
            framing: .none, extraFields: [(bytes("X-Claim\r\nEvil"), bytes("v\r\nInjected: 1\u{0}"))]))
        #expect(text(out).contains("X-ClaimEvil: v  Injected: 1 \r\n"))
        #expect(parseAllWays(out).0.error == nil)
    }

    @Test func clientResponseRewrite() throws {
        let head = try #require(parseHead(WriterFixture.response, kind: .response(requestMethodIsHEAD: false)))
        var out: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(
            framing: .chunked, keepAlive: false, removeFieldNames: [bytes("gateway-update-claims")],
            extraFields: [(bytes("X-Token"), bytes("new.jwt.value"))], exposeHeader: bytes("X-Token")))
        #expect(text(out) ==
            "HTTP/1.1 200 Fine Thanks\r\n" +
            "Content-Type: text/plain\r\n" +
            "Set-Cookie: s=1\r\n" +
            "Transfer-Encoding: chunked\r\n" +
            "X-Token: new.jwt.value\r\n" +
            "Access-Control-Expose-Headers: X-A, X-B, X-Token\r\n" +
            "Connection: close\r\n" +
            "\r\n")
    }

    /// A minted token never rides in a cacheable response (SPEC §4.5).
    @Test func mintedTokenMakesTheResponseNoStore() throws {
        let kind = HTTPHeadParser.Kind.response(requestMethodIsHEAD: false)
        let raw = "HTTP/1.1 200 OK\r\nCache-Control: public, max-age=300\r\nexpires: Thu, 01 Jan 2099 00:00:00 GMT\r\n"
            + "ETag: \"e\"\r\nVary: Accept-Encoding\r\nvary: Origin\r\nCACHE-CONTROL: s-maxage=60\r\nContent-Length: 0\r\n\r\n"
        let head = try #require(parseHead(raw, kind: kind))
        var out: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(
            framing: .contentLength(0), keepAlive: true, extraFields: [(bytes("X-Token"), bytes("t"))],
            carriesMintedToken: true))
        #expect(text(out) ==
            "HTTP/1.1 200 OK\r\n" +
            "ETag: \"e\"\r\n" +
            "Content-Length: 0\r\n" +
            "X-Token: t\r\n" +
            "Cache-Control: no-store\r\n" +
            "Vary: Accept-Encoding, Origin, Authorization\r\n" +
            "\r\n")
        // Vary already naming Authorization (or *) is not repeated; no Vary: one is added.
        for (vary, expected) in [("vary: authorization", "Vary: authorization\r\n"), ("Vary: *", "Vary: *\r\n"),
                                 (nil, "Vary: Authorization\r\n")] {
            let h = try #require(parseHead("HTTP/1.1 204 No Content\r\n" + (vary.map { $0 + "\r\n" } ?? "") + "\r\n",
                                           kind: kind))
            out.removeAll()
            HeadWriter.writeClientResponse(h, into: &out, options: ClientResponseOptions(
                framing: .none, keepAlive: true, carriesMintedToken: true))
            #expect(text(out) == "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n" + expected + "\r\n")
        }
        // Without a minted token the caching fields pass untouched.
        out.removeAll()
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(framing: .contentLength(0), keepAlive: true))
        #expect(text(out).contains("Cache-Control: public, max-age=300\r\n"))
        #expect(!text(out).contains("no-store"))
    }

    @Test func responseToHTTP10ClientAndLenientStatusLine() throws {
        let kind = HTTPHeadParser.Kind.response(requestMethodIsHEAD: false)
        let head = try #require(parseHead("HTTP/1.1 204\r\nX-A: 1\r\n\r\n", kind: kind))
        var out: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(
            framing: .none, keepAlive: true, clientIsHTTP10: true, exposeHeader: bytes("X-Token")))
        #expect(text(out) == "HTTP/1.0 204 \r\nX-A: 1\r\nAccess-Control-Expose-Headers: X-Token\r\n" +
                "Connection: keep-alive\r\n\r\n")
    }

    @Test func contentLengthKeptForBodylessResponses() throws {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n"
        let head = try #require(parseHead(raw, kind: .response(requestMethodIsHEAD: true)))
        var out: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(framing: .none, keepAlive: true))
        #expect(text(out) == raw)
        // With a body, framing comes from the options only.
        let get = try #require(parseHead(raw, kind: .response(requestMethodIsHEAD: false)))
        out.removeAll(keepingCapacity: true)
        HeadWriter.writeClientResponse(get, into: &out, options: ClientResponseOptions(framing: .contentLength(1234),
                                                                                       keepAlive: true))
        #expect(text(out) == "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n")
    }

    @Test func switchingProtocolsTunnel() throws {
        let head = try #require(parseHead(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n\r\n",
            kind: .response(requestMethodIsHEAD: false)))
        var out: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &out, options: ClientResponseOptions(
            framing: .none, keepAlive: true, tunnelUpgrade: true))
        #expect(text(out) == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: k\r\n" +
                "Connection: upgrade\r\n\r\n")
    }

    @Test func simpleResponses() {
        var out: [UInt8] = []
        HeadWriter.writeSimpleResponse(status: 401, reason: HeadWriter.reasonPhrase(for: 401),
                                       headers: [("WWW-Authenticate", "Bearer realm=\"gateway\""),
                                                 ("Content-Type", "application/json")],
                                       body: bytes("{\"error\":\"missing_token\"}"), keepAlive: false, into: &out)
        #expect(text(out) == "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"gateway\"\r\n" +
                "Content-Type: application/json\r\nContent-Length: 25\r\nConnection: close\r\n\r\n" +
                "{\"error\":\"missing_token\"}")
        out.removeAll(keepingCapacity: true)
        HeadWriter.writeSimpleResponse(status: 404, reason: "Not Found", headers: [], body: [], keepAlive: true,
                                       into: &out)
        #expect(text(out) == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        out.removeAll(keepingCapacity: true)
        HeadWriter.write100Continue(into: &out)
        #expect(text(out) == "HTTP/1.1 100 Continue\r\n\r\n")
        for status in [400, 401, 403, 404, 413, 417, 431, 502, 503, 504, 505] {
            #expect(!HeadWriter.reasonPhrase(for: status).isEmpty)
        }
        // Every error the parser reports maps to a status with a phrase.
        let errors: [HTTPParseError] = [.headTooLarge, .badStartLine, .unsupportedVersion, .badFieldName,
            .badFieldValue, .obsFold, .bareLF, .conflictingFraming, .badContentLength, .unsupportedTransferEncoding,
            .missingHost, .duplicateHost, .duplicateAuthorization, .unsupportedExpectation, .badTarget, .badChunk, .trailerTooLarge]
        for e in errors { #expect(!HeadWriter.reasonPhrase(for: e.status).isEmpty) }
    }

    @Test func manyConnectionTokensStayLinear() throws {
        // 2000 tokens and 2000 fields: a quadratic writer would be visibly slow here.
        let tokens = (0..<2000).map { "x-\($0)" }
        var raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: " + tokens.joined(separator: ",") + "\r\n"
        for t in tokens { raw += "\(t.uppercased()): v\r\n" }
        raw += "X-Kept: 1\r\n\r\n"
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 1 << 20)
        guard case .complete(let head, _) = bytes(raw).withUnsafeBytes({ parser.parse($0) }) else {
            Issue.record("did not parse"); return
        }
        var out: [UInt8] = []
        HeadWriter.writeUpstreamRequest(head, into: &out, options: UpstreamRequestOptions(framing: .none))
        #expect(text(out) == "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: 1\r\nConnection: keep-alive\r\n\r\n")
    }
}
