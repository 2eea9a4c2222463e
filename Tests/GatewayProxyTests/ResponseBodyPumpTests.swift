import Testing
import GatewayCore
import GatewayLoop
@testable import GatewayProxy

/// The response body on its way to the client, and the bytes the access log
/// counts for it (they must be what the client was sent).
@Suite struct ResponseBodyPumpTests {
    @Test func aChunkedResponseIsReframedAndCountedAsSent() throws {
        let loop = try EventLoop()
        let upstream = try SocketPairEnd(loop: loop), client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        let body = String(repeating: "x", count: 300)
        upstream.send("3;ext=1\r\nabc\r\n12c\r\n\(body)\r\n0\r\nX-Trailer: t\r\n\r\n")
        #expect(ResponseBodyPump.pump(from: upstream.socket, to: client.socket, exchange: &ex, highWater: 1 << 20)
                == .complete)
        let sent = client.received()
        #expect(sent == Array("3\r\nabc\r\n12c\r\n\(body)\r\n0\r\n\r\n".utf8))
        #expect(ex.bytesOut == UInt64(sent.count))
        #expect(ex.response.isDone)
    }

    @Test func aCloseDelimitedBodyGoesOutInChunksToAnHTTP11Client() throws {
        let loop = try EventLoop()
        let upstream = try SocketPairEnd(loop: loop), client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(response: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
        upstream.send("hello")
        #expect(ResponseBodyPump.pump(from: upstream.socket, to: client.socket, exchange: &ex, highWater: 1 << 20)
                == .needMore)
        ResponseBodyPump.finish(to: client.socket, exchange: &ex)  // the upstream's EOF
        let sent = client.received()
        #expect(sent == Array("5\r\nhello\r\n0\r\n\r\n".utf8))
        #expect(ex.bytesOut == UInt64(sent.count))
        #expect(ex.response.isDone)
    }

    @Test func aContentLengthBodyStopsAtItsLength() throws {
        let loop = try EventLoop()
        let upstream = try SocketPairEnd(loop: loop), client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
        upstream.send("hel")
        #expect(ResponseBodyPump.pump(from: upstream.socket, to: client.socket, exchange: &ex, highWater: 1 << 20)
                == .needMore)
        upstream.send("loEXTRA")
        #expect(ResponseBodyPump.pump(from: upstream.socket, to: client.socket, exchange: &ex, highWater: 1 << 20)
                == .complete)
        #expect(client.received() == Array("hello".utf8))
        #expect(ex.bytesOut == 5)
        #expect(upstream.input == Array("EXTRA".utf8))
    }

    @Test func brokenUpstreamChunkingIsMalformed() throws {
        let loop = try EventLoop()
        let upstream = try SocketPairEnd(loop: loop), client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange(
            response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        upstream.send("3\r\nabcXX")
        #expect(ResponseBodyPump.pump(from: upstream.socket, to: client.socket, exchange: &ex, highWater: 1 << 20)
                == .malformed)
    }

    /// hex digits + CRLF + data + CRLF: "ff\r\n" + 255 + "\r\n" is 261.
    @Test(arguments: [(0, 5), (1, 6), (15, 20), (16, 22), (255, 261), (256, 263), (65536, 65545)])
    func chunkSizeOnTheWire(count: Int, wire: Int) {
        #expect(ResponseBodyPump.chunkedSize(count) == wire)
    }

    @Test func aTunnelPassesBothWaysAndCountsEach() throws {
        let loop = try EventLoop()
        let upstream = try SocketPairEnd(loop: loop), client = try SocketPairEnd(loop: loop)
        var ex = try #require(PumpFixtures.exchange())
        client.send("ping!")
        upstream.send("pong")
        let before = ex.bytesIn
        TunnelPump.pump(client: client.socket, upstream: upstream.socket, exchange: &ex, nowMs: 42, highWater: 1 << 20)
        #expect(upstream.received() == Array("ping!".utf8))
        #expect(client.received() == Array("pong".utf8))
        #expect(ex.bytesIn - before == 5)
        #expect(ex.bytesOut == 4)
        #expect(ex.lastTunnelActivityMs == 42)
    }
}

/// Heads written in place into a socket's output buffer.
@Suite struct SocketHeadWritingTests {
    @Test(arguments: [1, 40, 4096])
    func aHeadGoesOutWholeWhateverTheFirstWindow(bound: Int) throws {
        let loop = try EventLoop()
        let end = try SocketPairEnd(loop: loop)
        let head = try #require(PumpFixtures.head("HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 0\r\n\r\n",
                                                   kind: .response(requestMethodIsHEAD: false)))
        let options = ClientResponseOptions(framing: .contentLength(0), keepAlive: true,
                                            extraFields: [(Array("X-Long".utf8), [UInt8](repeating: 0x61, count: 500))])
        var expected: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &expected, options: options)
        let length = end.socket.writeHead(bound: bound) { HeadWriter.writeClientResponse(head, into: &$0, options: options) }
        #expect(length == expected.count)
        #expect(end.received() == expected)
    }
}
