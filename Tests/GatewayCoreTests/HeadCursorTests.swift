import Testing
@testable import GatewayCore

/// `HeadCursor`: heads written in place into a fixed window.
@Suite struct HeadCursorTests {
    static let response = "HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 5\r\nX-A: a value\r\n\r\n"

    @Test func aWindowTooSmallIsRefusedAndTheBytesStayInside() throws {
        let head = try #require(parseHead(Self.response, kind: .response(requestMethodIsHEAD: false)))
        let options = ClientResponseOptions(framing: .contentLength(5), keepAlive: true)
        var whole: [UInt8] = []
        HeadWriter.writeClientResponse(head, into: &whole, options: options)
        for size in [0, 1, 10, whole.count - 1] {
            var window = [UInt8](repeating: 0xEE, count: size + 8)
            let (count, overflowed) = window.withUnsafeMutableBytes { raw -> (Int, Bool) in
                var cursor = HeadCursor(UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
                HeadWriter.writeClientResponse(head, into: &cursor, options: options)
                return (cursor.count, cursor.overflowed)
            }
            #expect(overflowed, "window \(size)")
            #expect(count <= size)
            #expect(window[size...].allSatisfy { $0 == 0xEE }, "nothing written past the window")
        }
        var exact = [UInt8](repeating: 0, count: whole.count)
        let fits = exact.withUnsafeMutableBytes { raw -> Bool in
            var cursor = HeadCursor(raw)
            HeadWriter.writeClientResponse(head, into: &cursor, options: options)
            return !cursor.overflowed && cursor.count == whole.count
        }
        #expect(fits)
        #expect(exact == whole)
    }

    @Test func theArrayPathGrowsItsWindowUntilTheHeadFits() throws {
        let head = try #require(parseHead(Self.response, kind: .response(requestMethodIsHEAD: false)))
        let options = ClientResponseOptions(framing: .contentLength(5), keepAlive: false,
                                            extraFields: [(Array("X-Big".utf8), [UInt8](repeating: 0x62, count: 3000))])
        var out = Array("prefix".utf8)
        HeadCursor.append(to: &out, bound: 1) { HeadWriter.writeClientResponse(head, into: &$0, options: options) }
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasPrefix("prefixHTTP/1.1 200 OK\r\n"))
        #expect(text.contains("X-Big: " + String(repeating: "b", count: 3000) + "\r\n"))
        #expect(text.hasSuffix("Connection: close\r\n\r\n"))
    }

    @Test func decimalsAndTruncation() {
        var window = [UInt8](repeating: 0, count: 64)
        let text = window.withUnsafeMutableBytes { raw -> String in
            var cursor = HeadCursor(raw)
            for v: UInt64 in [0, 7, 10, 18_446_744_073_709_551_615] { cursor.appendDecimal(v); cursor.append(0x2C) }
            let mark = cursor.count
            cursor.append("dropped")
            cursor.truncate(to: mark)
            return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[0..<cursor.count]), as: UTF8.self)
        }
        #expect(text == "0,7,10,18446744073709551615,")
    }
}
