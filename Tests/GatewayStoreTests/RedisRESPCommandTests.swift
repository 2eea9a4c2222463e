import Testing
@testable import GatewayStore

@Suite struct RedisRESPCommandTests {
    @Test func encodesBinarySafeArgumentsWithATrailingNulOutsideTheLength() {
        let cmd = RESPCommand([Array("SET".utf8), [0, 13, 10, 36], []])
        let expected = Array("*3\r\n$3\r\nSET\r\n$4\r\n".utf8) + [0, 13, 10, 36] + Array("\r\n$0\r\n\r\n".utf8)
        #expect(Array(cmd.bytes.prefix(cmd.length)) == expected)
        #expect(cmd.bytes.last == 0 && cmd.bytes.count == expected.count + 1)
        #expect(cmd.name == "SET")
    }
}
