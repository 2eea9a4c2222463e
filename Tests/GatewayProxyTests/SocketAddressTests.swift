import Testing
@testable import GatewayCore
@testable import GatewayProxy
import GatewayLoop

@Suite struct SocketAddressTests {
    @Test func resolvesIPv4Literal() throws {
        let a = try SocketAddress.resolve(SocketAddressSpec(host: "127.0.0.1", port: 8080))
        #expect(a.description == "127.0.0.1:8080")
        #expect(a.hostText == "127.0.0.1")
    }

    @Test func resolvesIPv6Literal() throws {
        let a = try SocketAddress.resolve(SocketAddressSpec(host: "::1", port: 443))
        #expect(a.description == "[::1]:443")
    }

    @Test func unresolvableNameIsAnError() {
        #expect(throws: RuntimeError.self) {
            _ = try SocketAddress.resolve(SocketAddressSpec(host: "no-such-host.invalid", port: 1))
        }
    }

    @Test func listenOnPortZeroGetsAPort() throws {
        let a = try SocketAddress.resolve(SocketAddressSpec(host: "127.0.0.1", port: 0), passive: true)
        let fd = try Socket.listen(a, reusePort: true)
        defer { _ = closeFD(fd) }
        let bound = try #require(Socket.localAddress(fd))
        #expect(bound.port != 0)
        // A second worker socket can share the port (SO_REUSEPORT).
        let again = try Socket.listen(bound, reusePort: true)
        _ = closeFD(again)
    }
}
