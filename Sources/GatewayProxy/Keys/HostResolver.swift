import CLibevent
import GatewayLoop

/// Name resolution on the event loop, with libevent's evdns
/// (`evdns_getaddrinfo`): numeric literals and /etc/hosts answer at once,
/// other names are asked of resolv.conf's nameservers over the loop's own
/// socket, never blocking it and with no thread per lookup. Used for
/// outbound key fetches (`jwks_url`), a few per minute at most.
///
/// What it does not do: nsswitch (mDNS, LDAP, systemd-resolved's own
/// rules). Names a JWKS URL uses are public DNS names; upstream servers
/// are resolved once at start-up with getaddrinfo (`SocketAddress`).
enum HostResolver {
    /// At most this many addresses are kept (tried in order).
    static let maxAddresses = 8

    /// Resolves `host` (a name or a numeric literal) for TCP on `port`;
    /// `done` runs later on `loop`'s thread, never from inside this call.
    /// Call on `loop`'s thread.
    static func resolve(host: String, port: UInt16, on loop: EventLoop,
                        _ done: @escaping @Sendable (Result<[SocketAddress], HTTPFetch.Failure>) -> Void) {
        guard let dns = loop.dnsBase else {
            loop.post { done(.failure(HTTPFetch.Failure("cannot resolve \(host): no resolver on this loop"))) }
            return
        }
        var hints = addrinfo()   // evutil_addrinfo is the system's addrinfo here
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let lookup = Lookup(host: host, loop: loop, done: done)
        let arg = Unmanaged.passRetained(lookup).toOpaque()
        lookup.inCall = true
        _ = evdns_getaddrinfo(dns, host, String(port), &hints, { result, list, arg in
            guard let arg else { return }
            let lookup = Unmanaged<Lookup>.fromOpaque(arg).takeRetainedValue()
            defer { if let list { evutil_freeaddrinfo(list) } }
            // The loop is going away (its resolver freed): nobody to tell.
            guard result != EVUTIL_EAI_CANCEL else { return }
            lookup.finish(HostResolver.addresses(result: result, list: list, host: lookup.host))
        }, arg)
        lookup.inCall = false
    }

    /// One lookup in flight: what its callback needs.
    private final class Lookup {
        let host: String
        unowned let loop: EventLoop
        let done: @Sendable (Result<[SocketAddress], HTTPFetch.Failure>) -> Void
        /// Still inside `evdns_getaddrinfo`, which answers numeric hosts and
        /// /etc/hosts names before it returns.
        var inCall = false

        init(host: String, loop: EventLoop,
             done: @escaping @Sendable (Result<[SocketAddress], HTTPFetch.Failure>) -> Void) {
            self.host = host
            self.loop = loop
            self.done = done
        }

        func finish(_ result: Result<[SocketAddress], HTTPFetch.Failure>) {
            if inCall {
                let done = done
                loop.post { done(result) }
            } else {
                done(result)
            }
        }
    }

    /// Every IPv4 and IPv6 address of the answer, in its order, without repeats.
    fileprivate static func addresses(result: Int32, list: UnsafeMutablePointer<addrinfo>?,
                                  host: String) -> Result<[SocketAddress], HTTPFetch.Failure> {
        guard result == 0 else {
            return .failure(HTTPFetch.Failure("cannot resolve \(host): \(String(cString: evutil_gai_strerror(result)))"))
        }
        var out: [SocketAddress] = []
        var node = list
        while let n = node, out.count < maxAddresses {
            if let sa = n.pointee.ai_addr, n.pointee.ai_family == AF_INET || n.pointee.ai_family == AF_INET6 {
                let address = SocketAddress(sa, length: socklen_t(n.pointee.ai_addrlen))
                if !out.contains(where: { $0.description == address.description }) { out.append(address) }
            }
            node = n.pointee.ai_next
        }
        guard !out.isEmpty else { return .failure(HTTPFetch.Failure("cannot resolve \(host): no address")) }
        return .success(out)
    }
}
