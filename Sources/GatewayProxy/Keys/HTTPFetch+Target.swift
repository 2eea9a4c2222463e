import CLibevent

extension HTTPFetch {
    /// Where a fetch goes: an `http` or `https` URL (RFC 3986 §3, RFC 9110
    /// §4.2) taken apart once, so a fetch only copies fields.
    ///
    /// Accepted: `scheme://host[:port][/path][?query][#fragment]` with a DNS
    /// name, an IPv4 literal or a bracketed IPv6 literal. Refused: other
    /// schemes, userinfo (`user@host`, RFC 9110 §4.2.4 deprecates it and it
    /// would hide the real host), zone IDs, empty or out-of-range ports, and
    /// bytes in the path that would need percent-encoding (spaces, controls,
    /// non-ASCII). The fragment is dropped: it is never sent (RFC 9110 §7.1).
    struct Target: Sendable, Equatable {
        enum Scheme: Sendable, Equatable { case http, https }

        var scheme: Scheme
        /// Lower-cased DNS name or IP literal, without IPv6 brackets: what
        /// the resolver and the certificate check see.
        var host: String
        var port: UInt16
        /// The origin-form request target (RFC 9112 §3.2.1): starts with "/".
        var pathAndQuery: String
        var isIPv6Literal: Bool

        /// The Host field value (RFC 9110 §7.2): brackets around an IPv6
        /// literal, the port only when it is not the scheme's default.
        var hostHeader: String {
            let h = isIPv6Literal ? "[\(host)]" : host
            return port == defaultPort ? h : "\(h):\(port)"
        }

        var defaultPort: UInt16 { scheme == .https ? 443 : 80 }

        /// True when `host` is a loopback address or `localhost` (where plain
        /// http is allowed, SPEC §3).
        var isLoopback: Bool {
            if host == "localhost" || host.hasSuffix(".localhost") { return true }
            if isIPv6Literal { return host == "::1" }
            var addr = in_addr()
            guard inet_pton(AF_INET, host, &addr) == 1 else { return false }
            return UInt32(bigEndian: addr.s_addr) >> 24 == 127
        }

        static func parse(_ url: String) throws(TargetError) -> Target {
            let bytes = Array(url.utf8)
            guard let sep = find(bytes, "://") else { throw .unsupportedScheme }
            let scheme: Scheme
            switch String(decoding: bytes[0..<sep], as: UTF8.self).lowercased() {
            case "http": scheme = .http
            case "https": scheme = .https
            default: throw .unsupportedScheme
            }
            let authorityStart = sep + 3
            var authorityEnd = authorityStart
            while authorityEnd < bytes.count, !"/?#".utf8.contains(bytes[authorityEnd]) { authorityEnd += 1 }
            let authority = bytes[authorityStart..<authorityEnd]
            guard !authority.contains(UInt8(ascii: "@")) else { throw .userinfo }

            var host: String
            var isIPv6 = false
            var portText: ArraySlice<UInt8>?
            if authority.first == UInt8(ascii: "[") {
                guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw .badHost }
                host = String(decoding: authority[(authority.startIndex + 1)..<close], as: UTF8.self)
                var a6 = in6_addr()
                guard inet_pton(AF_INET6, host, &a6) == 1 else { throw .badHost }
                isIPv6 = true
                let after = authority[(close + 1)...]
                if let first = after.first {
                    guard first == UInt8(ascii: ":") else { throw .badHost }
                    portText = after.dropFirst()
                }
            } else {
                let colon = authority.firstIndex(of: UInt8(ascii: ":"))
                let name = authority[authority.startIndex..<(colon ?? authority.endIndex)]
                guard !name.isEmpty else { throw .emptyHost }
                // A DNS name or IPv4 literal: LDH labels, dots; "_" and "~"
                // are unreserved (RFC 3986 §2.3). pct-encoded names are not
                // something a JWKS endpoint needs.
                for b in name where !(isAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
                                      || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")) {
                    throw .badHost
                }
                host = String(decoding: name, as: UTF8.self).lowercased()
                if let colon { portText = authority[(colon + 1)...] }
            }
            if isIPv6 { host = host.lowercased() }

            var port: UInt16 = scheme == .https ? 443 : 80
            if let portText {
                guard !portText.isEmpty, portText.count <= 5 else { throw .badPort }
                var value = 0
                for b in portText {
                    guard b >= 0x30, b <= 0x39 else { throw .badPort }
                    value = value * 10 + Int(b - 0x30)
                }
                guard value >= 1, value <= 65_535 else { throw .badPort }
                port = UInt16(value)
            }

            var pathEnd = authorityEnd
            while pathEnd < bytes.count, bytes[pathEnd] != UInt8(ascii: "#") { pathEnd += 1 }
            let rawPath = bytes[authorityEnd..<pathEnd]
            // Only visible ASCII: what the request line may carry as is.
            for b in rawPath where b < 0x21 || b > 0x7E { throw .badPath }
            var path = String(decoding: rawPath, as: UTF8.self)
            if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
            return Target(scheme: scheme, host: host, port: port, pathAndQuery: path, isIPv6Literal: isIPv6)
        }

        private static func isAlnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }

        private static func find(_ bytes: [UInt8], _ needle: StaticString) -> Int? {
            let n = Array(UnsafeRawBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount))
            guard bytes.count >= n.count else { return nil }
            for i in 0...(bytes.count - n.count) where bytes[i..<(i + n.count)].elementsEqual(n) { return i }
            return nil
        }
    }

    /// Why a URL cannot be fetched.
    enum TargetError: Error, Equatable, CustomStringConvertible {
        case unsupportedScheme
        case userinfo
        case emptyHost
        case badHost
        case badPort
        case badPath

        var description: String {
            switch self {
            case .unsupportedScheme: return "not an http or https URL"
            case .userinfo: return "user information in a URL is not supported"
            case .emptyHost: return "no host in URL"
            case .badHost: return "bad host in URL"
            case .badPort: return "bad port in URL"
            case .badPath: return "URL path has bytes that must be percent-encoded"
            }
        }
    }
}
