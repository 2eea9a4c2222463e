import Testing
import GatewayCore
import GatewayLoop
@testable import GatewayProxy

/// The session endpoints' bodies, read whole and bounded.
@Suite struct LocalBodyCollectorTests {
    @Test func aChunkedBodyIsCollectedWhole() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            request: "POST /auth/refresh HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
        var body: [UInt8] = []
        client.send("4\r\n{\"a\"\r\n")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 64) == .needMore)
        client.send("2\r\n:1\r\n1\r\n}\r\n0\r\n\r\n")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 64) == .complete)
        #expect(body == Array("{\"a\":1}".utf8))
        #expect(ex.requestBodyBytes == 7)
    }

    @Test func aContentLengthBodyStopsAtItsLength() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            request: "POST /auth/logout HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n"))
        var body: [UInt8] = []
        client.send("abc")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 64) == .needMore)
        client.send("defGET")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 64) == .complete)
        #expect(body == Array("abcdef".utf8))
        #expect(client.input == Array("GET".utf8))
    }

    @Test func aChunkedBodyPastTheLimitIsRefusedBeforeItIsRead() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            request: "POST /auth/refresh HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
        var body: [UInt8] = []
        client.send("6\r\nabcdef\r\n6\r\nghijkl\r\n")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 10) == .tooLarge)
        #expect(body == Array("abcdef".utf8))
    }

    @Test func brokenChunkFramingIsMalformed() throws {
        let loop = try EventLoop()
        let client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            request: "POST /auth/refresh HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
        var body: [UInt8] = []
        client.send("4\r\nabcdXX")
        #expect(LocalBodyCollector.collect(from: client.socket, exchange: &ex, into: &body, limit: 64) == .malformed)
    }
}
