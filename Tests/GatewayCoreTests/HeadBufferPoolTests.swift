import Testing
@testable import GatewayCore

@Suite struct HeadBufferPoolTests {
    func parse(_ parser: inout HTTPHeadParser, _ text: String) throws -> HTTPHead {
        let input = Array(text.utf8)
        let step = input.withUnsafeBytes { parser.parse($0) }
        guard case .complete(let head, _) = step else { Issue.record("no head: \(step)"); throw CancellationError() }
        return head
    }

    @Test func aFinishedHeadsBuffersServeTheNextHead() throws {
        let pool = HeadBufferPool()
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        parser.pool = pool
        var first: HTTPHead? = try parse(&parser, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let firstStorage = first!.bytes.withUnsafeBufferPointer { $0.baseAddress }
        pool.recycle(&first)
        #expect(first == nil)
        #expect(pool.kept == (1, 1))
        let second = try parse(&parser, "GET /b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n")
        #expect(pool.kept == (0, 0))
        // Same storage, and nothing of the first head shows through.
        #expect(second.bytes.withUnsafeBufferPointer { $0.baseAddress } == firstStorage)
        #expect(second.bytes == Array("GET /b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n".utf8))
        #expect(second.fields.count == 2)
    }

    @Test func aHeadStillReferencedElsewhereIsLeftAlone() throws {
        let pool = HeadBufferPool()
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        parser.pool = pool
        var head: HTTPHead? = try parse(&parser, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let logLine = head  // e.g. an access-log entry on its way to the log thread
        pool.recycle(&head)
        #expect(pool.kept == (0, 0))
        #expect(logLine?.bytes == Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
    }

    @Test func largeBuffersGoBackToTheAllocator() throws {
        let pool = HeadBufferPool()
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 65536)
        parser.pool = pool
        let big = "GET /a HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 20_000) + "\r\n\r\n"
        var head: HTTPHead? = try parse(&parser, big)
        pool.recycle(&head)
        #expect(pool.kept.bytes == 0)
    }
}
