import CLibevent
import GatewayLoop

/// Name resolution that never blocks an event loop: getaddrinfo(3) is
/// blocking (a dead DNS server stalls it for seconds), so it runs on a
/// short-lived thread of its own and the answer is posted back to the loop.
/// Used for outbound key fetches, a few per minute at most.
enum HostResolver {
    /// At most this many addresses are kept (tried in order).
    static let maxAddresses = 8

    /// Resolves `host` (a name or a numeric literal) for TCP on `port`;
    /// `done` runs later on `loop`'s thread, never from inside this call.
    static func resolve(host: String, port: UInt16, on loop: EventLoop,
                        _ done: @escaping @Sendable (Result<[SocketAddress], HTTPFetch.Failure>) -> Void) {
        let spawned = OSThread.spawn(name: "gateway-dns") {
            let result = lookup(host: host, port: port)
            loop.post { done(result) }
        }
        if !spawned {
            loop.post { done(.failure(HTTPFetch.Failure("cannot start a resolver thread for \(host)"))) }
        }
    }

    /// getaddrinfo in the calling thread. Every address in the system's
    /// preferred order (RFC 6724), so "localhost" can fall back from ::1 to
    /// 127.0.0.1.
    static func lookup(host: String, port: UInt16) -> Result<[SocketAddress], HTTPFetch.Failure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0 else {
            return .failure(HTTPFetch.Failure("cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var out: [SocketAddress] = []
        var node = list
        while let n = node, out.count < maxAddresses {
            if let sa = n.pointee.ai_addr, n.pointee.ai_family == AF_INET || n.pointee.ai_family == AF_INET6 {
                let address = SocketAddress(sa, length: n.pointee.ai_addrlen)
                if !out.contains(where: { $0.description == address.description }) { out.append(address) }
            }
            node = n.pointee.ai_next
        }
        guard !out.isEmpty else { return .failure(HTTPFetch.Failure("cannot resolve \(host): no address")) }
        return .success(out)
    }
}
