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

    /// Reads from an accepted socket until the end of a request head (or EOF,
    /// or `timeoutSeconds` without data), and returns what arrived.
    static func readHead(_ c: Int32, timeoutSeconds: Int) -> [UInt8] {
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 4096)
        var got: [UInt8] = []
        while !got.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            got += buf[0..<n]
        }
        return got
    }
}
