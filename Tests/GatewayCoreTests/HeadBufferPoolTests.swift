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

    /// The head object itself is reused too, refilled whole: a response
    /// head after a request head shows nothing of the request.
    @Test func aFinishedHeadObjectIsRefilledForTheNextHead() throws {
        let pool = HeadBufferPool()
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        parser.pool = pool
        var first: HTTPHead? = try parse(&parser, "POST /a%7e?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        let object = ObjectIdentifier(first!)
        pool.recycle(&first)
        #expect(pool.keptShells == 1)
        parser.reset(kind: .response(requestMethodIsHEAD: false))
        let second = try parse(&parser, "HTTP/1.0 204 No Content\r\nX-A: 1\r\n\r\n")
        #expect(pool.keptShells == 0)
        #expect(ObjectIdentifier(second) == object)
        let fresh = try {
            var p = HTTPHeadParser(kind: .response(requestMethodIsHEAD: false), maxHeadBytes: 16384)
            return try parse(&p, "HTTP/1.0 204 No Content\r\nX-A: 1\r\n\r\n")
        }()
        #expect(second.bytes == fresh.bytes)
        #expect(second.fields == fresh.fields)
        #expect(second.status == 204 && second.version == fresh.version)
        #expect(second.method == fresh.method && second.target == fresh.target)
        #expect(second.normalized == fresh.normalized)
        #expect(second.framing == fresh.framing && second.keepAlive == fresh.keepAlive)
        #expect(!second.expectContinue && second.hostField == nil && !second.isUpgrade)
    }

    @Test func aHeadObjectStillReferencedIsNotReused() throws {
        let pool = HeadBufferPool()
        var parser = HTTPHeadParser(kind: .request, maxHeadBytes: 16384)
        parser.pool = pool
        var head: HTTPHead? = try parse(&parser, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let held = head
        pool.recycle(&head)
        #expect(pool.keptShells == 0)
        parser.reset(kind: .request)
        let next = try parse(&parser, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(next !== held)
        #expect(held?.bytes == Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
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
