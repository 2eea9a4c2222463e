import Testing
import GatewayCore
import GatewayLoop
@testable import GatewayProxy

/// The request body on its way upstream: as it came, or re-framed.
@Suite struct RequestBodyPumpTests {
    static let chunkedRequest = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test func aChunkedBodyIsReframedWithoutExtensionsOrTrailers() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop), upstream = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(request: Self.chunkedRequest))
        client.send("5;name=value\r\nhello\r\n14\r\n")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 0) == .needMore)
        client.send("abcdefghijklmnopqrst\r\n0\r\nX-Trailer: t\r\n\r\nGET")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 0) == .complete)
        #expect(upstream.received() == Array("5\r\nhello\r\n14\r\nabcdefghijklmnopqrst\r\n0\r\n\r\n".utf8))
        #expect(ex.requestBodyBytes == 25)
        #expect(ex.bodyIsDone)
        #expect(client.input == Array("GET".utf8))  // the next request stays
    }

    @Test func aContentLengthBodyMovesAsItIsAndStopsAtItsEnd() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop), upstream = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            request: "PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"))
        client.send("0123")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 0) == .needMore)
        #expect(!ex.bodyIsDone)
        client.send("456789GET /next")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 0) == .complete)
        #expect(upstream.received() == Array("0123456789".utf8))
        #expect(client.input == Array("GET /next".utf8))
    }

    @Test func aChunkedBodyPastTheLimitIsTooLarge() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop), upstream = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(request: Self.chunkedRequest))
        client.send("8\r\n12345678\r\n")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 7) == .tooLarge)
    }

    @Test func brokenChunkFramingIsMalformed() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop), upstream = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(request: Self.chunkedRequest))
        client.send("zz\r\nhello\r\n")
        #expect(RequestBodyPump.pump(from: client.socket, to: upstream.socket, exchange: &ex, maxBody: 0) == .malformed)
        #expect(upstream.received().isEmpty)
    }
}
