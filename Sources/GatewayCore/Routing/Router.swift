/// Picks the route for a request (SPEC §4.2): the longest path prefix wins; a
/// route with `host` matches only that Host (ASCII case-insensitive, port
/// ignored) and wins over a host-less route with the same prefix. Prefixes are
/// compared byte for byte, case-sensitive (RFC 3986 §6.2.2.1), with the
/// routing key of the *normalized* path (`HTTPHead.withRoutingPath`): the
/// parser refused dot segments, encoded slashes and backslashes, then decoded
/// unreserved escapes and merged `//` (`PathNormalizer`), and the key has
/// `;parameters` cut from every segment. Upstreams read paths that way, so
/// `/%61dmin/x`, `//admin/x` and `/admin;p/x` all match `/admin/`; the
/// upstream receives the same normalized path, so the two never disagree.
///
/// Built once per config generation; `route` allocates nothing and is safe to
/// call from any thread (the value is immutable).
public struct Router: Sendable {
    struct Entry: Sendable {
        var prefix: [UInt8]
        /// Lower-cased, without brackets or port; nil: any host.
        var host: [UInt8]?
        /// Index into the `[RouteConfig]` the router was built from.
        var index: Int
    }

    /// Sorted so that the first match is the answer: prefix length descending,
    /// then host-specific before host-less, then file order.
    let entries: [Entry]

    /// `routes` in file order; the indices `route` returns refer to it. When two
    /// routes have the same prefix and host (the config loader should refuse
    /// that), the earlier one in the file wins.
    public init(routes: [RouteConfig]) {
        var entries: [Entry] = []
        entries.reserveCapacity(routes.count)
        for (i, r) in routes.enumerated() {
            let host = r.host.map { Router.normalizedHost(Array($0.utf8)) }
            entries.append(Entry(prefix: Array(r.prefix.utf8), host: host, index: i))
        }
        entries.sort { a, b in
            if a.prefix.count != b.prefix.count { return a.prefix.count > b.prefix.count }
            if (a.host != nil) != (b.host != nil) { return a.host != nil }
            return a.index < b.index
        }
        self.entries = entries
    }

    /// The index (into the routes given to `init`) of the route for this
    /// request, or nil when none matches (the caller answers 404).
    ///
    /// - Parameters:
    ///   - path: the routing key (`HTTPHead.withRoutingPath`); the router
    ///     decodes nothing itself, it compares the bytes it is given.
    ///   - host: the raw Host field value (OWS already trimmed), or nil when
    ///     the request has none (HTTP/1.0); host-specific routes then never match.
    public func route(path: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer?) -> Int? {
        let hostRange = host.flatMap { Router.hostNameRange($0) }
        for e in entries {
            guard path.count >= e.prefix.count else { continue }
            if let want = e.host {
                guard let host, let hostRange, Router.equalsLowercased(host, hostRange, want) else { continue }
            }
            if Router.hasPrefix(path, e.prefix) { return e.index }
        }
        return nil
    }

    /// Convenience for callers holding bytes in an array (tests, admin tools).
    public func route(path: [UInt8], host: [UInt8]?) -> Int? {
        path.withUnsafeBytes { pb in
            guard let h = host else { return route(path: pb, host: nil) }
            return h.withUnsafeBytes { hb in route(path: pb, host: hb) }
        }
    }

    /// The name a route has in metrics and access logs: its prefix, preceded by
    /// its host when it has one (`api.example.com/v1/`; an IPv6 host in
    /// brackets, `[::1]/v1/`).
    public static func routeName(_ route: RouteConfig) -> String {
        guard let host = route.host, !host.isEmpty else { return route.prefix }
        let bare = String(decoding: normalizedHost(Array(host.utf8)), as: UTF8.self)
        return bare.contains(":") ? "[\(bare)]\(route.prefix)" : bare + route.prefix
    }

    /// `routeName` for every route, by index.
    public static func routeNames(_ routes: [RouteConfig]) -> [String] {
        routes.map(routeName)
    }

    // MARK: - Byte helpers

    /// The host name part of a Host value: inside the brackets for an IPv6
    /// literal (`[::1]:8080` -> `::1`), else up to the first colon
    /// (`example.com:8080` -> `example.com`), all of it for a bare IPv6
    /// literal (`::1`, the form `RouteConfig.host` holds); one trailing dot of a fully
    /// qualified name is dropped (`example.com.` names the same host as
    /// `example.com`, RFC 1034 §3.1), so it cannot be used to miss a host route.
    /// Nil for an opening bracket without its closing one: such a Host matches
    /// no host-specific route.
    static func hostNameRange(_ host: UnsafeRawBufferPointer) -> Range<Int>? {
        var start = 0
        var end = host.count
        if end > 0, host[0] == UInt8(ascii: "[") {
            start = 1
            var i = 1
            while i < host.count, host[i] != UInt8(ascii: "]") { i += 1 }
            guard i < host.count else { return nil }
            end = i
        } else {
            var firstColon = end
            var colons = 0
            for i in 0..<end where host[i] == UInt8(ascii: ":") {
                if colons == 0 { firstColon = i }
                colons += 1
            }
            // Two or more colons without brackets: a bare IPv6 literal (as the
            // config stores it, `::1`), which has no port to strip.
            if colons == 1 { end = firstColon }
            if colons <= 1, end > start, host[end - 1] == UInt8(ascii: ".") { end -= 1 }
        }
        return start..<end
    }

    /// Config hosts in comparable form: lower-cased, brackets, port and one
    /// trailing dot removed (the loader already lower-cases and strips ports;
    /// this keeps the router right even for a hand-built `RouteConfig`).
    public static func normalizedHost(_ raw: [UInt8]) -> [UInt8] {
        raw.withUnsafeBytes { buf in
            let r = hostNameRange(buf) ?? 0..<buf.count
            return buf[r].map(lowercaseASCII)
        }
    }

    @inline(__always)
    public static func lowercaseASCII(_ b: UInt8) -> UInt8 {
        (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) ? b | 0x20 : b
    }

    @inline(__always)
    static func equalsLowercased(_ buf: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: [UInt8]) -> Bool {
        guard range.count == lower.count else { return false }
        var j = 0
        for i in range {
            if lowercaseASCII(buf[i]) != lower[j] { return false }
            j += 1
        }
        return true
    }

    @inline(__always)
    static func hasPrefix(_ buf: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard buf.count >= prefix.count else { return false }
        var i = 0
        while i < prefix.count {
            if buf[i] != prefix[i] { return false }
            i += 1
        }
        return true
    }
}
