import Testing
@testable import GatewayCore

/// The exchange as a value, without sockets: each test feeds it parsed heads
/// and checks the decisions the connection would carry out.
@Suite struct ExchangeTests {
    func request(_ text: String) throws -> HTTPHead {
        let (_, head) = feedHead(bytes(text), kind: .request, max: 65536, cuts: [])
        return try #require(head)
    }

    func response(_ text: String, toHEAD: Bool = false) throws -> HTTPHead {
        let (_, head) = feedHead(bytes(text), kind: .response(requestMethodIsHEAD: toHEAD), max: 65536, cuts: [])
        return try #require(head)
    }

    func exchange(_ text: String, number: Int = 1, draining: Bool = false) throws -> Exchange {
        let head = try request(text)
        return Exchange(head: head, headBytes: head.bytes.count, number: number, startUs: 1_000, draining: draining)
    }

    static let get = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    static let ok5 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"

    // MARK: - Keep-alive

    @Test func keepAliveFollowsClientUpstreamAndDraining() throws {
        var ex = try exchange(Self.get)
        #expect(ex.keepAlive)
        let exPlan = ex.planResponse(try response(Self.ok5))
        #expect(exPlan == .stream(.contentLength(5), bodyDone: false))
        #expect(ex.keepAlive && ex.keepAliveUpstream)

        #expect(try !exchange("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keepAlive)
        #expect(try !exchange("GET /a HTTP/1.0\r\n\r\n").keepAlive)
        #expect(try exchange("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive)
        #expect(try !exchange(Self.get, draining: true).keepAlive)

        // The upstream closing keeps the client connection but not the pooled one.
        var closing = try exchange(Self.get)
        _ = closing.planResponse(try response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        #expect(closing.keepAlive && !closing.keepAliveUpstream)
        closing.responseFinished()
        #expect(!closing.upstreamReusable)
    }

    @Test func closeDelimitedBodyIsChunkedToHTTP11AndCloseDelimitedToHTTP10() throws {
        var v11 = try exchange(Self.get)
        let v11Plan = v11.planResponse(try response("HTTP/1.1 200 OK\r\n\r\n"))
        #expect(v11Plan == .stream(.chunked, bodyDone: false))
        #expect(v11.chunkedToClient && v11.keepAlive && !v11.keepAliveUpstream)
        #expect(v11.upstreamLost(eof: true) == .bodyEnded)
        #expect(v11.upstreamLost(eof: false) == .midBody)  // a reset is never an end

        var v10 = try exchange("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let v10Plan = v10.planResponse(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(v10Plan == .stream(.none, bodyDone: false))
        #expect(!v10.chunkedToClient && !v10.keepAlive && v10.keepAliveUpstream)
    }

    @Test func aWithdrawnResponseLetsTheGatewayAnswer() throws {
        var ex = try exchange(Self.get)
        _ = ex.planResponse(try response(Self.ok5))
        #expect(ex.responseStarted)
        ex.withdrawResponse()
        #expect(!ex.responseStarted && !ex.upstreamReusable)
        let closes = ex.answered(status: 503, close: false)
        #expect(!closes, "keep-alive survives a withdrawn response")
        #expect(ex.status == 503)
    }

    @Test func answeredBeforeTheUploadEndedCloses() throws {
        var ex = try exchange("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
        #expect(!ex.bodyIsDone)
        _ = ex.planResponse(try response(Self.ok5))
        #expect(!ex.keepAlive)
        #expect(!ex.upstreamReusable)
    }

    // MARK: - Pipelining: every exchange starts from nothing

    @Test func aSecondExchangeOnTheConnectionStartsFresh() throws {
        var first = try exchange(Self.get, number: 1)
        _ = first.planResponse(try response(Self.ok5))
        first.bytesOut += 219
        first.authLabel = .ok
        first.aborted()
        #expect(first.status == 200 && first.bytesOut == 219)
        let second = try exchange(Self.get, number: 2)
        // The access-log fields of the second exchange owe nothing to the first.
        #expect(second.number == 2)
        #expect(second.status == 0 && second.bytesOut == 0 && second.authLabel == .none)
        #expect(second.bytesIn == UInt64(Self.get.utf8.count))
        #expect(!second.responseStarted && second.attempts == 0 && second.triedServer == nil)
        #expect(second.keepAlive && second.response.isHead)
    }

    @Test func abortWithoutAResponseLogs502OrTheGivenStatus() throws {
        var ex = try exchange(Self.get)
        ex.aborted()
        #expect(ex.status == 502 && !ex.keepAlive)
        var stalled = try exchange("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n")
        stalled.aborted(status: 408)
        #expect(stalled.status == 408)
    }

    @Test func clientGoneBeforeTheResponseIs499AndAfterKeepsTheStatus() throws {
        var early = try exchange(Self.get)
        early.clientGone()
        #expect(early.status == 499 && !early.keepAlive)
        var late = try exchange(Self.get)
        _ = late.planResponse(try response(Self.ok5))
        late.clientGone()
        #expect(late.status == 200)
    }

    @Test func unparsedHeadAnswerCloses() {
        var ex = Exchange(unparsedNumber: 3, startUs: 5)
        let exAnswered = ex.answered(status: 400, close: false)
        #expect(exAnswered)
        #expect(ex.status == 400 && ex.responseStarted && ex.bytesIn == 0)
    }

    @Test func localAnswerKeepsOrClosesTheConnection() throws {
        var keep = try exchange(Self.get)
        let keepAnswered = keep.answered(status: 404, close: false)
        #expect(!keepAnswered)
        var close = try exchange(Self.get)
        let closeAnswered = close.answered(status: 400, close: true)
        #expect(closeAnswered)
        var http10 = try exchange("GET /a HTTP/1.0\r\n\r\n")
        let http10Answered = http10.answered(status: 401, close: false)
        #expect(http10Answered)
    }

    // MARK: - 100-continue

    @Test func continueOnlyForHTTP11WithABodyStillToCome() throws {
        let post = "POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        #expect(try exchange(post).wants100Continue)
        #expect(try !exchange("POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
                    .wants100Continue)
        #expect(try !exchange("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n").wants100Continue)
        var sent = try exchange(post)
        sent.countRequestBody(3)
        sent.requestBody = .done
        #expect(!sent.wants100Continue)
        #expect(sent.bytesIn == UInt64(post.utf8.count) + 3)
    }

    // MARK: - Retry, 502, 504

    @Test func retryOnceForIdempotentRequestsWithNothingSent() throws {
        var get = try exchange(Self.get)
        get.beginAttempt(nowUs: 10)
        #expect(!get.isRetry && get.upstreamStartUs == 10)
        #expect(get.mayRetry(serverCount: 2))
        #expect(!get.mayRetry(serverCount: 0))
        get.beginAttempt(nowUs: 20)
        #expect(get.isRetry)
        #expect(!get.mayRetry(serverCount: 2))  // twice at most

        var post = try exchange("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        post.beginAttempt(nowUs: 0)
        #expect(!post.mayRetry(serverCount: 2))

        var put = try exchange("PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n")
        put.beginAttempt(nowUs: 0)
        #expect(put.mayRetry(serverCount: 2))
        put.countRequestBody(1)  // a body byte went out: the server may have acted
        #expect(!put.mayRetry(serverCount: 2))

        var started = try exchange(Self.get)
        started.beginAttempt(nowUs: 0)
        _ = started.planResponse(try response(Self.ok5))
        #expect(!started.mayRetry(serverCount: 2))
    }

    @Test func upstreamLostBeforeTheHeadIsA502OrRetryAndMidBodyAnAbort() throws {
        var ex = try exchange(Self.get)
        #expect(ex.upstreamLost(eof: true) == .beforeResponse)
        _ = ex.planResponse(try response(Self.ok5))
        #expect(ex.upstreamLost(eof: true) == .midBody)
        ex.aborted()
        #expect(ex.status == 200)  // what went out is what the log says
    }

    @Test func bodilessResponsesAreDoneAtTheHead() throws {
        var head = try exchange("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(head.isHEAD && head.isIdempotent)
        let headPlan = head.planResponse(try response(Self.ok5, toHEAD: true))
        #expect(headPlan == .stream(.none, bodyDone: true))
        #expect(head.upstreamReusable)
        var noContent = try exchange(Self.get)
        let noContentPlan = noContent.planResponse(try response("HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(noContentPlan == .stream(.none, bodyDone: true))
    }

    // MARK: - Upgrade

    @Test func a101TunnelsOnlyAnUpgradeRequest() throws {
        let upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        let switching = try response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        var ws = try exchange(upgrade)
        #expect(ws.isUpgrade)
        let wsPlan = ws.planResponse(switching)
        #expect(wsPlan == .tunnel)
        #expect(ws.status == 101 && !ws.keepAlive)
        var plain = try exchange(Self.get)
        let plainPlan = plain.planResponse(switching)
        #expect(plainPlan == .refuse)
        #expect(!plain.responseStarted)
    }

    // MARK: - Timeouts measured from the last activity

    @Test func deadlineRearmsForWhatIsLeftAndExpiresAfterTheFullQuietPeriod() {
        #expect(Deadline.check(lastActivityMs: 1_000, nowMs: 1_400, limitMs: 1_000) == .rearm(afterMs: 600))
        #expect(Deadline.check(lastActivityMs: 1_000, nowMs: 1_999, limitMs: 1_000) == .rearm(afterMs: 1))
        #expect(Deadline.check(lastActivityMs: 1_000, nowMs: 2_000, limitMs: 1_000) == .expired)
        #expect(Deadline.check(lastActivityMs: 1_000, nowMs: 9_000, limitMs: 1_000) == .expired)
        // A clock step backwards never arms past the full period.
        #expect(Deadline.check(lastActivityMs: 5_000, nowMs: 4_000, limitMs: 1_000) == .rearm(afterMs: 1_000))
    }
}

