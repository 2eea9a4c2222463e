import CLibevent
@testable import GatewayProxy

/// A blocking listening socket on 127.0.0.1 and a free port, for the small
/// scripted servers the tests run on threads of their own.
enum LoopbackListener {
    struct Failed: Error {}

    static func open(backlog: Int32) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard fd >= 0, bound, listen(fd, backlog) == 0 else {
            if fd >= 0 { close(fd) }
            throw Failed()
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }
}
