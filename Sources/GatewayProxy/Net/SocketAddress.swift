import CLibevent
import GatewayCore
import GatewayLoop

/// A resolved socket address (IPv4 or IPv6), stored inline.
struct SocketAddress: @unchecked Sendable, CustomStringConvertible {  // plain bytes, no pointers
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    /// Resolves numeric literals without I/O; names through getaddrinfo
    /// (called only at start and reload, never on the request path).
    static func resolve(_ spec: SocketAddressSpec, passive: Bool = false) throws(RuntimeError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(spec.host, String(spec.port), &hints, &result)
        guard rc == 0, let first = result, let sa = first.pointee.ai_addr else {
            let why = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw .address("cannot resolve \(spec): \(why)")
        }
        defer { freeaddrinfo(result) }
        var address = SocketAddress()
        address.length = first.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &address.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(first.pointee.ai_addrlen)))
        }
        return address
    }

    init() {}

    /// Copies an address handed over by the kernel (accept, getsockname).
    init(_ sa: UnsafePointer<sockaddr>, length: socklen_t) {
        self.length = min(length, socklen_t(MemoryLayout<sockaddr_storage>.size))
        let n = Int(self.length)
        withUnsafeMutableBytes(of: &storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: n))
        }
    }

    var family: Int32 { Int32(storage.ss_family) }

    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            }
            return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        }
    }

    /// The address without port, as text ("127.0.0.1", "::1").
    var hostText: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok: Bool = withUnsafeBytes(of: storage) { raw in
            if family == AF_INET {
                return inet_ntop(AF_INET, raw.baseAddress! + 4, &buf, socklen_t(buf.count)) != nil
            } else if family == AF_INET6 {
                return inet_ntop(AF_INET6, raw.baseAddress! + 8, &buf, socklen_t(buf.count)) != nil
            }
            return false
        }
        guard ok else { return "-" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var description: String {
        family == AF_INET6 ? "[\(hostText)]:\(port)" : "\(hostText):\(port)"
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}

enum Socket {
    /// A non-blocking listening socket. `reusePort` lets every worker bind
    /// its own socket to the same address so the kernel spreads accepts.
    static func listen(_ address: SocketAddress, reusePort: Bool, backlog: Int32 = 1024) throws(RuntimeError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", gw_errno()) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if address.family == AF_INET6 {
            // "[::]:8080" means IPv6 only; list "0.0.0.0:8080" too for IPv4.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let rc = address.withSockaddr { bind(fd, $0, $1) }
        guard rc == 0 else {
            let e = gw_errno(); close(fd)
            throw .system("bind \(address)", e)
        }
        guard CLibevent.listen(fd, backlog) == 0 else {
            let e = gw_errno(); close(fd)
            throw .system("listen \(address)", e)
        }
        return fd
    }

    /// The address a socket is bound to (to learn the port after binding :0).
    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: len) }
        }
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}

/// close(2) under a name that does not clash with methods called `close`.
@discardableResult
func closeFD(_ fd: Int32) -> Int32 { CLibevent.close(fd) }
